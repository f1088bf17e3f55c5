/* softntk output schema: every group, dataset and attribute of every file softntk writes
 * (results.h5, ntk.h5, samples.h5, regression.h5, bench.h5 and checkpoints), declared once in
 * src/h5/schema.c with its kind, type, shape, units, description and the commands that write it.
 * The results writers (results.h) take units and descriptions from it and refuse a path it lacks;
 * `softntk inspect` prints it (--schema) and checks files against it; the schema document
 * (docs/schema.md) is generated from the printed form.
 *
 * Paths: "/group/dataset"; an attribute is "<object>@<name>" (root attributes "/@name"). A
 * placeholder in angle brackets matches one path component part: <step> digits, any other
 * <name> letters, digits and underscores (so /ntk/gram_<step> holds /ntk/gram_0 but not
 * /ntk/gram_limit, which is its own entry). Shapes are in the sizes of the run: n samples, d input
 * dimension, k outputs, m width, nk = n k, P ranks; rows of an extendible series are `steps`,
 * `snapshots` or `evals`; other symbols (h, e, c, S, ...) are named in the descriptions. */
#ifndef SOFTNTK_SCHEMA_H
#define SOFTNTK_SCHEMA_H

#include <stdio.h>

/* The files, as bits of an entry's `files` mask. */
enum {
  SNTK_SCHEMA_RESULTS = 1,    /* results.h5 of train and score */
  SNTK_SCHEMA_NTK = 2,        /* ntk.h5 of ntk */
  SNTK_SCHEMA_SAMPLES = 4,    /* samples.h5 of sample */
  SNTK_SCHEMA_REGRESSION = 8, /* regression.h5 of score with diffusion.regression */
  SNTK_SCHEMA_BENCH = 16,     /* bench.h5 of bench */
  SNTK_SCHEMA_CHECKPOINT = 32 /* checkpoints/ckpt-<step>.h5 of train and score */
};
#define SNTK_SCHEMA_NFILES 6

typedef enum { SNTK_SCHEMA_GROUP, SNTK_SCHEMA_DATASET, SNTK_SCHEMA_ATTR } sntk_schema_kind_t;
typedef enum {
  SNTK_SCHEMA_NONE, /* a group */
  SNTK_SCHEMA_F64,
  SNTK_SCHEMA_I64,
  SNTK_SCHEMA_STR
} sntk_schema_type_t;

typedef struct sntk_schema_entry {
  unsigned files;   /* SNTK_SCHEMA_* bits: the files that may hold it */
  const char *path; /* see above */
  sntk_schema_kind_t kind;
  sntk_schema_type_t type;
  const char *shape;           /* "n x d", "snapshots", "scalar" (attributes), "" (groups) */
  const char *units;           /* the units attribute of a dataset (NULL: none) */
  const char *description;     /* a dataset's description attribute; the meaning of anything else */
  const char *writers;         /* the commands that write it */
  int required;                /* every file of its kinds holds it */
  const char *description_alt; /* a dataset's other description, written in some configurations
                                  (NULL: none) */
} sntk_schema_entry_t;

/* The table; *n its length. */
const sntk_schema_entry_t *sntk_schema_entries(int *n);

/* File kinds: name ("results", "ntk", "samples", "regression", "bench", "checkpoint") to bit (0:
 * unknown), bit to name, the kind of a file from its name (results.h5, ckpt-12.h5, ...; 0:
 * unknown) and the kind of the file a command writes with sntk_results_create ("train" and
 * "score": results, "score-regression": regression; 0: unknown). */
unsigned sntk_schema_file_bit(const char *name);
const char *sntk_schema_file_name(unsigned bit);
unsigned sntk_schema_file_of_path(const char *path);
unsigned sntk_schema_file_of_command(const char *command);

/* The entry of `path` among the files of mask `files` (exact paths before patterns), or NULL. */
const sntk_schema_entry_t *sntk_schema_find(unsigned files, const char *path);

/* Not collective. A writer is about to write `path` (of `kind`) to a file of kind `file` (0: not a
 * known file, nothing checked): SNTK_ERR_RUNTIME naming the path when the schema lacks it, or when
 * the caller's units or description (NULL: none given) differ from the schema's. *units and
 * *description become the schema's (a given description that equals the entry's description_alt
 * stays). */
int sntk_schema_check_write(unsigned file, const char *path, sntk_schema_kind_t kind,
                            const char **units, const char **description);

/* Print the schema of the files in `files` (one line per entry and its description). */
void sntk_schema_print(FILE *out, unsigned files);

#endif
