/* softntk configuration machinery: typed key tables, INI parsing, overrides, the resolved text.
 *
 * Each module declares its keys once, in a table of sntk_key_t whose offsets point into that
 * module's section struct (for example sntk_data_cfg_t). The tables are gathered into a list of
 * sections (see deck.h); that single declaration drives defaults, parsing, type and range checks,
 * unknown-key errors with suggestions, `softntk help` text and the resolved config echoed into
 * every output file. Nothing here is collective. */
#ifndef SOFTNTK_CONFIG_H
#define SOFTNTK_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SNTK_STR      1024 /* capacity of a string value, bytes (including the terminating NUL) */
#define SNTK_MAX_KEYS 256

typedef enum {
  SNTK_T_INT,    /* int64_t */
  SNTK_T_REAL,   /* double, finite */
  SNTK_T_BOOL,   /* int, 0 or 1 */
  SNTK_T_STRING, /* char[SNTK_STR] */
  SNTK_T_CHOICE  /* int: index into choices */
} sntk_type_t;

enum {
  SNTK_KEY_MIN_OPEN = 1u << 0,  /* value must be > min (not >=) */
  SNTK_KEY_MAX_OPEN = 1u << 1,  /* value must be < max (not <=) */
  SNTK_KEY_TRAJECTORY = 1u << 2 /* the value defines the trajectory: a checkpoint written under
                                   another value is refused */
};

/* A key: one row of a module's table. Tables end with a row whose name is NULL. */
typedef struct sntk_key {
  const char *name;
  sntk_type_t type;
  size_t offset;              /* offset of the value in the section struct */
  const char *def;            /* default, written as in a deck */
  double min, max;            /* range for INT and REAL (inclusive unless flagged open) */
  unsigned flags;             /* SNTK_KEY_* */
  const char *const *choices; /* CHOICE: NULL-terminated list of names */
  /* optional extra check of the text: return 0 if valid, else write the reason into why */
  int (*check)(const char *text, char *why, size_t len);
  const char *help;
} sntk_key_t;

typedef struct sntk_section {
  const char *name;
  const sntk_key_t *keys;
  size_t offset; /* offset of the section struct inside the whole config struct */
  const char *help;
} sntk_section_t;

/* A configuration: a struct of section structs plus which keys were set explicitly. */
typedef struct sntk_config {
  const sntk_section_t *sections; /* terminated by a row whose name is NULL */
  void *base;                     /* the struct the section offsets refer to */
  unsigned char set[SNTK_MAX_KEYS];
  unsigned char set_by_deck[SNTK_MAX_KEYS];
} sntk_config_t;

/* Bind `cfg` to its sections and struct and write every default. Returns SNTK_ERR_RUNTIME if a
 * default is invalid (a bug in a table). */
int sntk_config_init(sntk_config_t *cfg, const sntk_section_t *sections, void *base);

/* Parse INI text. `origin` names the source in messages (a file name). Errors (SNTK_ERR_INPUT) name
 * the line, section and key, and suggest the nearest valid name. A key given twice is an error. */
int sntk_config_parse(sntk_config_t *cfg, const char *text, const char *origin);

/* Apply one override "section.key=value" (the leading "--" already removed). */
int sntk_config_override(sntk_config_t *cfg, const char *assignment);

/* Set one key from text; `where` prefixes error messages. */
int sntk_config_set(sntk_config_t *cfg, const char *section, const char *key, const char *value,
                    const char *where);

/* Was "section.key" set explicitly (deck or override)? Unknown names return 0. */
int sntk_config_is_set(const sntk_config_t *cfg, const char *section, const char *key);

/* The resolved configuration as canonical INI text (every key, in table order). Caller frees. */
char *sntk_config_format(const sntk_config_t *cfg);

/* A resolved configuration as a run carries it: canonical text (sntk_config_format), its hash,
 * where it came from, and the section tables that describe it (for the trajectory keys). */
typedef struct sntk_resolved {
  const char *text;
  const char *hash;   /* sntk_hash_hex of text */
  const char *origin; /* deck file, or "built-in default" */
  const sntk_section_t *sections;
} sntk_resolved_t;

/* Not collective. The value of section.key in a resolved config text; 0 (and "") when absent. */
int sntk_config_text_value(const char *text, const char *section, const char *key, char *out,
                           size_t len);

/* Not collective. Do two resolved config texts describe the same trajectory: equal values of every
 * key flagged SNTK_KEY_TRAJECTORY in `sections` (a key absent from a text, written before the key
 * existed, counts with its default)? Returns 1 when they do; else 0 with the differences listed in
 * diff ("model.width = 1024 there, 2048 here; ..."), `a` being "there" and `b` "here". A section
 * that one of the texts lacks entirely (written before the section existed) is not compared. */
int sntk_config_same_trajectory(const sntk_section_t *sections, const char *a, const char *b,
                                char *diff, size_t len);

/* Not collective. A hash (16 hex digits) of the trajectory-defining values of a resolved config:
 * equal for two configs that sntk_config_same_trajectory accepts (all sections present). */
void sntk_config_trajectory_hash(const sntk_section_t *sections, const char *text, char out[17]);

/* Print every section and key with type, default, range and help. */
void sntk_config_help(const sntk_section_t *sections, FILE *out);

/* 64-bit FNV-1a hash of a byte string, and as 16 hex digits. */
uint64_t sntk_hash64(const void *data, size_t len);
void sntk_hash_hex(const char *text, char out[17]);

/* Parse a list of integers such as "1-32" or "1,5,9-12" (items separated by commas or spaces; each
 * a number or an inclusive range a-b) with every value in [lo, hi] and at most max_count values.
 * Returns 0 with *count values in *out (allocated, caller frees; *out may be NULL to only check),
 * or 1 with the reason in why. An empty text is an empty list. */
int sntk_int_list(const char *text, int64_t lo, int64_t hi, int64_t max_count, int64_t **out,
                  int64_t *count, char *why, size_t len);

/* Levenshtein distance between two short strings (capped at 64 characters). */
int sntk_edit_distance(const char *a, const char *b);

#endif
