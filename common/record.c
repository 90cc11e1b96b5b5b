/* record.c -- being written */
