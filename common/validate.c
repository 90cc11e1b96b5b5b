/* validate.c -- being written */
