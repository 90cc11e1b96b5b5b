/* import.c -- being written */
