/* codec.c -- being written */
