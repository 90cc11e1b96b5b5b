/* crypto.c -- being written */
