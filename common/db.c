/* db.c -- being written */
