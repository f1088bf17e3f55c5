/* Typed key tables, INI parsing through inih, overrides and the resolved text (see config.h). */
#include "softntk/config.h"

#include "softntk/error.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct lookup {
  const sntk_section_t *sec;
  const sntk_key_t *key;
  int flat; /* index over all keys of all sections */
} lookup_t;

static const sntk_section_t *find_section(const sntk_section_t *secs, const char *name) {
  for (const sntk_section_t *s = secs; s->name; s++)
    if (strcmp(s->name, name) == 0) return s;
  return NULL;
}

static int find_key(const sntk_section_t *secs, const char *sec, const char *key, lookup_t *out) {
  int flat = 0;
  for (const sntk_section_t *s = secs; s->name; s++)
    for (const sntk_key_t *k = s->keys; k->name; k++, flat++)
      if (strcmp(s->name, sec) == 0 && strcmp(k->name, key) == 0) {
        *out = (lookup_t){s, k, flat};
        return 1;
      }
  return 0;
}

int sntk_edit_distance(const char *a, const char *b) {
  int la = (int)strlen(a), lb = (int)strlen(b);
  if (la > 64) la = 64;
  if (lb > 64) lb = 64;
  int d[65][65];
  for (int i = 0; i <= la; i++) d[i][0] = i;
  for (int j = 0; j <= lb; j++) d[0][j] = j;
  for (int i = 1; i <= la; i++)
    for (int j = 1; j <= lb; j++) {
      int sub =
          d[i - 1][j - 1] + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
      int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
      d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
    }
  return d[la][lb];
}

/* Close enough to suggest: distance at most max(2, len/3). */
static int near(const char *typed, const char *cand, int *best) {
  int dist = sntk_edit_distance(typed, cand);
  int limit = (int)strlen(typed) / 3;
  if (limit < 2) limit = 2;
  if (dist <= limit && dist < *best) {
    *best = dist;
    return 1;
  }
  return 0;
}

/* Suggestion text for an unknown section ("" when nothing is close). */
static void suggest_section(const sntk_section_t *secs, const char *typed, char *out, size_t len) {
  int best = 1 << 30;
  out[0] = '\0';
  for (const sntk_section_t *s = secs; s->name; s++)
    if (near(typed, s->name, &best)) snprintf(out, len, "; did you mean [%s]?", s->name);
  if (!out[0]) {
    size_t used = (size_t)snprintf(out, len, "; valid sections:");
    for (const sntk_section_t *s = secs; s->name && used < len; s++)
      used += (size_t)snprintf(out + used, len - used, " [%s]", s->name);
  }
}

/* Suggestion for an unknown key: the same name in another section, else the nearest key anywhere.
 */
static void suggest_key(const sntk_section_t *secs, const char *sec, const char *typed, char *out,
                        size_t len) {
  out[0] = '\0';
  for (const sntk_section_t *s = secs; s->name; s++)
    for (const sntk_key_t *k = s->keys; k->name; k++)
      if (strcmp(k->name, typed) == 0) {
        snprintf(out, len, "; '%s' belongs in [%s]", typed, s->name);
        return;
      }
  int best = 1 << 30;
  const sntk_section_t *home = find_section(secs, sec);
  if (home)
    for (const sntk_key_t *k = home->keys; k->name; k++)
      if (near(typed, k->name, &best)) snprintf(out, len, "; did you mean '%s'?", k->name);
  if (out[0]) return;
  for (const sntk_section_t *s = secs; s->name; s++)
    for (const sntk_key_t *k = s->keys; k->name; k++)
      if (near(typed, k->name, &best))
        snprintf(out, len, "; did you mean [%s] %s?", s->name, k->name);
  if (!out[0] && home) {
    size_t used = (size_t)snprintf(out, len, "; keys of [%s]:", sec);
    for (const sntk_key_t *k = home->keys; k->name && used < len; k++)
      used += (size_t)snprintf(out + used, len - used, " %s", k->name);
  }
}

static const char *type_name(sntk_type_t t) {
  switch (t) {
  case SNTK_T_INT:
    return "integer";
  case SNTK_T_REAL:
    return "number";
  case SNTK_T_BOOL:
    return "boolean";
  case SNTK_T_STRING:
    return "string";
  case SNTK_T_CHOICE:
    return "choice";
  }
  return "?";
}

static void range_text(const sntk_key_t *k, char *out, size_t len) {
  out[0] = '\0';
  if (k->type != SNTK_T_INT && k->type != SNTK_T_REAL) return;
  int lo = isfinite(k->min), hi = isfinite(k->max);
  const char *lo_op = (k->flags & SNTK_KEY_MIN_OPEN) ? ">" : ">=";
  const char *hi_op = (k->flags & SNTK_KEY_MAX_OPEN) ? "<" : "<=";
  if (lo && hi)
    snprintf(out, len, "%s %g and %s %g", lo_op, k->min, hi_op, k->max);
  else if (lo)
    snprintf(out, len, "%s %g", lo_op, k->min);
  else if (hi)
    snprintf(out, len, "%s %g", hi_op, k->max);
}

static char *trim(char *s) {
  while (isspace((unsigned char)*s)) s++;
  char *e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
  return s;
}

static int parse_bool(const char *t, int *out) {
  static const char *yes[] = {"true", "yes", "on", "1"}, *no[] = {"false", "no", "off", "0"};
  for (int i = 0; i < 4; i++) {
    if (strcasecmp(t, yes[i]) == 0) return *out = 1, 1;
    if (strcasecmp(t, no[i]) == 0) return *out = 0, 1;
  }
  return 0;
}

/* Convert and check one value; write it into the section struct on success. */
static int assign(void *secbase, const char *secname, const sntk_key_t *k, const char *text,
                  const char *where) {
  char *p = (char *)secbase + k->offset;
  char rng[128], why[256] = "";
  range_text(k, rng, sizeof rng);
  if (k->type == SNTK_T_INT || k->type == SNTK_T_REAL) {
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end || errno == ERANGE || !isfinite(v))
      return sntk_error(SNTK_ERR_INPUT, "%s%s.%s = '%s' is not a %s", where, secname, k->name, text,
                        k->type == SNTK_T_INT ? "whole number" : "finite number");
    if (k->type == SNTK_T_INT && (v != floor(v) || fabs(v) > 9.0e15))
      return sntk_error(SNTK_ERR_INPUT, "%s%s.%s = '%s' is not a whole number", where, secname,
                        k->name, text);
    int bad = v < k->min || v > k->max || ((k->flags & SNTK_KEY_MIN_OPEN) && v <= k->min) ||
              ((k->flags & SNTK_KEY_MAX_OPEN) && v >= k->max);
    if (bad)
      return sntk_error(SNTK_ERR_INPUT, "%s%s.%s = %s is out of range: must be %s", where, secname,
                        k->name, text, rng);
    if (k->type == SNTK_T_INT)
      *(int64_t *)p = (int64_t)v;
    else
      *(double *)p = v;
  } else if (k->type == SNTK_T_BOOL) {
    int b;
    if (!parse_bool(text, &b))
      return sntk_error(SNTK_ERR_INPUT, "%s%s.%s = '%s' is not a boolean (true/false)", where,
                        secname, k->name, text);
    *(int *)p = b;
  } else if (k->type == SNTK_T_CHOICE) {
    int idx = -1, best = 1 << 30;
    const char *hint = NULL;
    for (int i = 0; k->choices[i]; i++) {
      if (strcasecmp(text, k->choices[i]) == 0) idx = i;
      if (near(text, k->choices[i], &best)) hint = k->choices[i];
    }
    if (idx < 0) {
      char list[256] = "";
      size_t used = 0;
      for (int i = 0; k->choices[i] && used < sizeof list; i++)
        used +=
            (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", k->choices[i]);
      if (hint)
        return sntk_error(SNTK_ERR_INPUT, "%s%s.%s = '%s' is not one of: %s; did you mean '%s'?",
                          where, secname, k->name, text, list, hint);
      return sntk_error(SNTK_ERR_INPUT, "%s%s.%s = '%s' is not one of: %s", where, secname, k->name,
                        text, list);
    }
    *(int *)p = idx;
  } else {
    if (strlen(text) >= SNTK_STR)
      return sntk_error(SNTK_ERR_INPUT, "%s%s.%s is longer than %d characters", where, secname,
                        k->name, SNTK_STR - 1);
    snprintf(p, SNTK_STR, "%s", text);
  }
  if (k->check && k->check(text, why, sizeof why))
    return sntk_error(SNTK_ERR_INPUT, "%s%s.%s = '%s': %s", where, secname, k->name, text, why);
  return SNTK_OK;
}

int sntk_config_set(sntk_config_t *cfg, const char *section, const char *key, const char *value,
                    const char *where) {
  lookup_t lk;
  char hint[512];
  if (!section[0])
    return sntk_error(SNTK_ERR_INPUT, "%skey '%s' appears before any [section]", where, key);
  if (!find_section(cfg->sections, section)) {
    suggest_section(cfg->sections, section, hint, sizeof hint);
    return sntk_error(SNTK_ERR_INPUT, "%sunknown section [%s]%s", where, section, hint);
  }
  if (!find_key(cfg->sections, section, key, &lk)) {
    suggest_key(cfg->sections, section, key, hint, sizeof hint);
    return sntk_error(SNTK_ERR_INPUT, "%sunknown key '%s' in [%s]%s", where, key, section, hint);
  }
  char *v = strdup(value);
  if (!v) return sntk_error(SNTK_ERR_RUNTIME, "out of memory");
  int err = assign((char *)cfg->base + lk.sec->offset, section, lk.key, trim(v), where);
  free(v);
  if (!err) cfg->set[lk.flat] = 1;
  return err;
}

int sntk_config_init(sntk_config_t *cfg, const sntk_section_t *sections, void *base) {
  memset(cfg, 0, sizeof *cfg);
  cfg->sections = sections;
  cfg->base = base;
  int n = 0;
  for (const sntk_section_t *s = sections; s->name; s++)
    for (const sntk_key_t *k = s->keys; k->name; k++, n++) {
      if (n >= SNTK_MAX_KEYS) return sntk_error(SNTK_ERR_RUNTIME, "too many config keys");
      SNTK_CALL(assign((char *)base + s->offset, s->name, k, k->def, "default of "));
    }
  return SNTK_OK;
}

typedef struct parse_state {
  sntk_config_t *cfg;
  const char *origin;
  int err;
} parse_state_t;

static int on_pair(void *user, const char *section, const char *name, const char *value) {
  parse_state_t *st = user;
  lookup_t lk = {NULL, NULL, 0};
  if (find_key(st->cfg->sections, section, name, &lk) && st->cfg->set_by_deck[lk.flat]) {
    st->err = sntk_error(SNTK_ERR_INPUT, "key '%s' in [%s] is given twice", name, section);
    return 0;
  }
  st->err = sntk_config_set(st->cfg, section, name, value, "");
  if (st->err) return 0;
  st->cfg->set_by_deck[lk.flat] = 1;
  return 1;
}

int sntk_config_parse(sntk_config_t *cfg, const char *text, const char *origin) {
  parse_state_t st = {cfg, origin, SNTK_OK};
  int line = ini_parse_string(text, on_pair, &st);
  if (line == 0) return SNTK_OK;
  if (st.err) {
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", sntk_error_message());
    return sntk_error(st.err, "%s:%d: %s", origin, line, msg);
  }
  if (line < 0) return sntk_error(SNTK_ERR_RUNTIME, "%s: out of memory while parsing", origin);
  return sntk_error(SNTK_ERR_INPUT, "%s:%d: malformed line (expected [section] or key = value)",
                    origin, line);
}

int sntk_config_override(sntk_config_t *cfg, const char *assignment) {
  const char *eq = strchr(assignment, '=');
  const char *dot = strchr(assignment, '.');
  if (!eq || !dot || dot > eq)
    return sntk_error(SNTK_ERR_INPUT, "override '--%s' must look like --section.key=value",
                      assignment);
  char sec[128], key[128], where[600];
  size_t ls = (size_t)(dot - assignment), lk = (size_t)(eq - dot - 1);
  if (ls >= sizeof sec || lk >= sizeof key || ls == 0 || lk == 0)
    return sntk_error(SNTK_ERR_INPUT, "override '--%s' must look like --section.key=value",
                      assignment);
  memcpy(sec, assignment, ls);
  sec[ls] = '\0';
  memcpy(key, dot + 1, lk);
  key[lk] = '\0';
  snprintf(where, sizeof where, "override --%.500s: ", assignment);
  return sntk_config_set(cfg, sec, key, eq + 1, where);
}

int sntk_config_is_set(const sntk_config_t *cfg, const char *section, const char *key) {
  lookup_t lk;
  return find_key(cfg->sections, section, key, &lk) && cfg->set[lk.flat];
}

static void value_text(const void *secbase, const sntk_key_t *k, char *out, size_t len) {
  const char *p = (const char *)secbase + k->offset;
  switch (k->type) {
  case SNTK_T_INT:
    snprintf(out, len, "%" PRId64, *(const int64_t *)p);
    break;
  case SNTK_T_REAL:
    snprintf(out, len, "%.17g", *(const double *)p);
    break;
  case SNTK_T_BOOL:
    snprintf(out, len, "%s", *(const int *)p ? "true" : "false");
    break;
  case SNTK_T_CHOICE:
    snprintf(out, len, "%s", k->choices[*(const int *)p]);
    break;
  case SNTK_T_STRING:
    snprintf(out, len, "%s", p);
    break;
  }
}

char *sntk_config_format(const sntk_config_t *cfg) {
  size_t cap = 4096, used = 0;
  char *out = malloc(cap), val[SNTK_STR];
  if (!out) return NULL;
  out[0] = '\0';
  for (const sntk_section_t *s = cfg->sections; s->name; s++) {
    const char *secbase = (const char *)cfg->base + s->offset;
    for (const sntk_key_t *k = s->keys; k->name; k++) {
      value_text(secbase, k, val, sizeof val);
      size_t need = strlen(s->name) + strlen(k->name) + strlen(val) + 16;
      if (used + need >= cap) {
        cap = 2 * cap + need;
        char *grown = realloc(out, cap);
        if (!grown) return free(out), NULL;
        out = grown;
      }
      if (k == s->keys) used += (size_t)snprintf(out + used, cap - used, "[%s]\n", s->name);
      used += (size_t)snprintf(out + used, cap - used, "%s = %s\n", k->name, val);
    }
  }
  return out;
}

void sntk_config_help(const sntk_section_t *sections, FILE *out) {
  for (const sntk_section_t *s = sections; s->name; s++) {
    fprintf(out, "\n[%s]  %s\n", s->name, s->help ? s->help : "");
    for (const sntk_key_t *k = s->keys; k->name; k++) {
      char rng[128], kind[300];
      range_text(k, rng, sizeof rng);
      if (k->type == SNTK_T_CHOICE) {
        size_t used = 0;
        for (int i = 0; k->choices[i] && used < sizeof kind; i++)
          used += (size_t)snprintf(kind + used, sizeof kind - used, "%s%s", i ? "|" : "",
                                   k->choices[i]);
      } else {
        snprintf(kind, sizeof kind, "%s%s%s", type_name(k->type), rng[0] ? ", " : "", rng);
      }
      fprintf(out, "  %-16s %s (default %s)\n  %-16s   %s\n", k->name, kind,
              k->def[0] ? k->def : "\"\"", "", k->help);
    }
  }
}

uint64_t sntk_hash64(const void *data, size_t len) {
  const unsigned char *p = data;
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

void sntk_hash_hex(const char *text, char out[17]) {
  snprintf(out, 17, "%016" PRIx64, sntk_hash64(text, strlen(text)));
}

/* One item of an integer list: "a" or "a-b". Returns 0 and the bounds, or 1 with the reason. */
static int list_item(const char *item, int64_t lo, int64_t hi, int64_t *a, int64_t *b, char *why,
                     size_t len) {
  char *end;
  errno = 0;
  long long x = strtoll(item, &end, 10), y = x;
  if (end == item || errno) return snprintf(why, len, "'%s' is not a number or range", item), 1;
  if (*end == '-' && end[1]) {
    const char *second = end + 1;
    y = strtoll(second, &end, 10);
    if (end == second || errno) return snprintf(why, len, "'%s' is not a range a-b", item), 1;
  }
  if (*end) return snprintf(why, len, "'%s' is not a number or range a-b", item), 1;
  if (x > y) return snprintf(why, len, "range '%s' runs backwards", item), 1;
  if (x < lo || y > hi)
    return snprintf(why, len, "'%s' is outside [%lld, %lld]", item, (long long)lo, (long long)hi),
           1;
  *a = x, *b = y;
  return 0;
}

int sntk_int_list(const char *text, int64_t lo, int64_t hi, int64_t max_count, int64_t **out,
                  int64_t *count, char *why, size_t len) {
  char buf[SNTK_STR];
  int64_t n = 0, a, b;
  if (out) *out = NULL;
  *count = 0;
  if (snprintf(buf, sizeof buf, "%s", text) >= (int)sizeof buf)
    return snprintf(why, len, "list too long"), 1;
  for (int pass = 0; pass < 2; pass++) {
    snprintf(buf, sizeof buf, "%s", text);
    n = 0;
    for (char *save = NULL, *it = strtok_r(buf, ", ", &save); it;
         it = strtok_r(NULL, ", ", &save)) {
      if (list_item(it, lo, hi, &a, &b, why, len)) return 1;
      if (b - a >= max_count || n + (b - a + 1) > max_count)
        return snprintf(why, len, "more than %lld values", (long long)max_count), 1;
      for (int64_t v = a; pass == 1 && v <= b; v++) (*out)[n + v - a] = v;
      n += b - a + 1;
    }
    if (pass == 0 && (!out || n == 0)) break;
    if (pass == 0 && !(*out = calloc((size_t)n, sizeof **out)))
      return snprintf(why, len, "out of memory"), 1;
  }
  *count = n;
  return 0;
}

int sntk_config_text_value(const char *text, const char *section, const char *key, char *out,
                           size_t len) {
  char head[128], want[128];
  snprintf(head, sizeof head, "[%s]\n", section);
  snprintf(want, sizeof want, "\n%s = ", key);
  out[0] = '\0';
  const char *sec = strstr(text, head);
  if (!sec) return 0;
  const char *end = strstr(sec + 1, "\n[");
  const char *p = strstr(sec + strlen(head) - 1, want);
  if (!p || (end && p > end)) return 0;
  p += strlen(want);
  size_t n = strcspn(p, "\n");
  if (n >= len) n = len - 1;
  memcpy(out, p, n);
  out[n] = '\0';
  return 1;
}

/* Does a resolved config text hold section [name] (a line of its own)? */
static int has_section(const char *text, const char *name) {
  char head[128];
  snprintf(head, sizeof head, "\n[%s]\n", name);
  return strncmp(text, head + 1, strlen(head + 1)) == 0 || strstr(text, head) != NULL;
}

int sntk_config_same_trajectory(const sntk_section_t *sections, const char *a, const char *b,
                                char *diff, size_t len) {
  char va[SNTK_STR], vb[SNTK_STR];
  size_t used = 0;
  diff[0] = '\0';
  for (const sntk_section_t *s = sections; s->name; s++) {
    if (!has_section(a, s->name) || !has_section(b, s->name)) continue;
    for (const sntk_key_t *k = s->keys; k->name; k++) {
      if (!(k->flags & SNTK_KEY_TRAJECTORY)) continue;
      if (!sntk_config_text_value(a, s->name, k->name, va, sizeof va))
        snprintf(va, sizeof va, "%s", k->def);
      if (!sntk_config_text_value(b, s->name, k->name, vb, sizeof vb))
        snprintf(vb, sizeof vb, "%s", k->def);
      if (strcmp(va, vb) != 0 && used < len)
        used += (size_t)snprintf(diff + used, len - used, "%s%s.%s = %s there, %s here",
                                 used ? "; " : "", s->name, k->name, va, vb);
    }
  }
  return used == 0;
}

void sntk_config_trajectory_hash(const sntk_section_t *sections, const char *text, char out[17]) {
  char buf[16384], v[SNTK_STR];
  size_t used = 0;
  buf[0] = '\0';
  for (const sntk_section_t *s = sections; s->name; s++)
    for (const sntk_key_t *k = s->keys; k->name && used < sizeof buf; k++) {
      if (!(k->flags & SNTK_KEY_TRAJECTORY)) continue;
      sntk_config_text_value(text, s->name, k->name, v, sizeof v);
      used += (size_t)snprintf(buf + used, sizeof buf - used, "%s.%s=%s\n", s->name, k->name, v);
    }
  sntk_hash_hex(buf, out);
}
