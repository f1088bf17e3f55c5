/* `softntk inspect`: a file against its declared schema (schema.h), and `inspect --schema`. */
#include "softntk/error.h"
#include "softntk/h5util.h"
#include "softntk/inspect.h"
#include "softntk/schema.h"

#include <hdf5.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int sntk_inspect_schema(const char *which, FILE *out) {
  unsigned files = (1u << SNTK_SCHEMA_NFILES) - 1;
  if (which) {
    files = sntk_schema_file_bit(which);
    if (!files)
      return sntk_error(SNTK_ERR_INPUT,
                        "inspect --schema %s: no such file kind (results, ntk, samples, "
                        "regression, bench, checkpoint)",
                        which);
  }
  fprintf(out, "# softntk output schema (src/h5/schema.c). Paths: /group/dataset, attributes "
               "<object>@<name>;\n# <step> is a training step, other <name> any identifier. "
               "Shapes: n samples, d input dimension,\n# k outputs, m width, nk = n k, P ranks, "
               "steps/snapshots/evals rows of an extendible series.\n\n");
  sntk_schema_print(out, files);
  return SNTK_OK;
}

typedef struct check {
  FILE *out;
  unsigned kind;
  int problems, objects, attrs;
  int64_t n, d, k, m, P; /* the file's own sizes (-1: absent) */
} check_t;

static void bad(check_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bad(check_t *c, const char *fmt, ...) {
  va_list ap;
  char msg[1024];
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(c->out, "  FAILED (schema): %s\n", msg);
  if (!c->problems++) sntk_error(SNTK_ERR_RUNTIME, "%s", msg);
}

static sntk_schema_type_t type_of(hid_t ty) {
  switch (H5Tget_class(ty)) {
  case H5T_FLOAT:
    return SNTK_SCHEMA_F64;
  case H5T_INTEGER:
    return SNTK_SCHEMA_I64;
  case H5T_STRING:
    return SNTK_SCHEMA_STR;
  default:
    return SNTK_SCHEMA_NONE;
  }
}

static const char *const type_names[] = {"none", "f64", "i64", "str"};

/* The size a shape symbol names in this file (-1: not a fixed size of the file). */
static int64_t symbol_size(const check_t *c, const char *sym) {
  if (!strcmp(sym, "n")) return c->n;
  if (!strcmp(sym, "d")) return c->d;
  if (!strcmp(sym, "k")) return c->k;
  if (!strcmp(sym, "m")) return c->m;
  if (!strcmp(sym, "P")) return c->P;
  if (!strcmp(sym, "nk")) return c->n >= 0 && c->k >= 0 ? c->n * c->k : -1;
  char *end;
  long long v = strtoll(sym, &end, 10);
  return *end == '\0' && end != sym ? v : -1;
}

/* Does a dataset of `rank` dims fit one of the shape's alternatives ("a x b or c")? Sizes named by
 * the file's own attributes must equal them. */
static int shape_fits(const check_t *c, const char *shape, int rank, const hsize_t *dims, char *why,
                      size_t len) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", shape);
  why[0] = '\0';
  for (char *alt = buf, *next; alt; alt = next) {
    next = strstr(alt, " or ");
    if (next) *next = '\0', next += 4;
    char *sym[8];
    int r = 0;
    for (char *t = alt, *nt; t && r < 8; t = nt) {
      nt = strstr(t, " x ");
      if (nt) *nt = '\0', nt += 3;
      sym[r++] = t;
    }
    if (r != rank) {
      snprintf(why, len, "rank %d, the schema says %s", rank, shape);
      continue;
    }
    int ok = 1;
    for (int i = 0; i < r && ok; i++) {
      int64_t want = symbol_size(c, sym[i]);
      if (want >= 0 && (int64_t)dims[i] != want) {
        snprintf(why, len, "dimension %d is %llu, the schema says %s = %lld", i + 1,
                 (unsigned long long)dims[i], sym[i], (long long)want);
        ok = 0;
      }
    }
    if (ok) return 1;
  }
  return 0;
}

static int read_str_attr(hid_t obj, const char *name, char **v) {
  *v = NULL;
  if (H5Aexists(obj, name) <= 0) return 0;
  return sntk_h5_attr_read_str(obj, name, v) == SNTK_OK;
}

static herr_t attr_visit(hid_t obj, const char *name, const H5A_info_t *info, void *data);

typedef struct attr_ctx {
  check_t *c;
  const char *path; /* "/" or "/a/b" */
  int dataset;
} attr_ctx_t;

static herr_t attr_visit(hid_t obj, const char *name, const H5A_info_t *info, void *data) {
  attr_ctx_t *a = data;
  (void)info;
  if (a->dataset && (!strcmp(name, "units") || !strcmp(name, "description"))) return 0;
  char full[1200];
  snprintf(full, sizeof full, "%s@%s", a->path, name);
  const sntk_schema_entry_t *e = sntk_schema_find(a->c->kind, full);
  a->c->attrs++;
  if (!e || e->kind != SNTK_SCHEMA_ATTR) {
    bad(a->c, "attribute %s is not in the schema of %s files", full,
        sntk_schema_file_name(a->c->kind));
    return 0;
  }
  hid_t at = H5Aopen(obj, name, H5P_DEFAULT), ty = at >= 0 ? H5Aget_type(at) : -1;
  sntk_schema_type_t t = ty >= 0 ? type_of(ty) : SNTK_SCHEMA_NONE;
  if (ty >= 0) H5Tclose(ty);
  if (at >= 0) H5Aclose(at);
  if (t != e->type)
    bad(a->c, "attribute %s is %s, the schema says %s", full, type_names[t], type_names[e->type]);
  return 0;
}

static void check_dataset(check_t *c, hid_t ds, const char *path, const sntk_schema_entry_t *e) {
  hid_t sp = H5Dget_space(ds), ty = H5Dget_type(ds);
  hsize_t dims[8] = {0};
  int rank = H5Sget_simple_extent_ndims(sp);
  if (rank > 8) rank = 8;
  H5Sget_simple_extent_dims(sp, dims, NULL);
  sntk_schema_type_t t = type_of(ty);
  H5Tclose(ty);
  H5Sclose(sp);
  if (t != e->type)
    bad(c, "dataset %s is %s, the schema says %s", path, type_names[t], type_names[e->type]);
  char why[256];
  if (!shape_fits(c, e->shape, rank, dims, why, sizeof why)) bad(c, "dataset %s: %s", path, why);
  char *u = NULL, *dsc = NULL, own[1200];
  if (c->kind == SNTK_SCHEMA_CHECKPOINT && !strncmp(path, "/history/", 9)) {
    /* a carried series: the units and description of the series it copies */
    const sntk_schema_entry_t *series = sntk_schema_find(SNTK_SCHEMA_RESULTS, path + 8);
    if (!series || series->kind != SNTK_SCHEMA_DATASET) {
      bad(c, "dataset %s carries %s, which is not a series of the results schema", path, path + 8);
      return;
    }
    read_str_attr(ds, "units", &u);
    read_str_attr(ds, "description", &dsc);
    if (!u || !series->units || strcmp(u, series->units) || !dsc ||
        strcmp(dsc, series->description))
      bad(c, "dataset %s: its units or description differ from those of the series %s", path,
          path + 8);
    free(u);
    free(dsc);
    return;
  }
  read_str_attr(ds, "units", &u);
  if ((u != NULL) != (e->units != NULL) || (u && strcmp(u, e->units)))
    bad(c, "dataset %s has units \"%s\", the schema says \"%s\"", path, u ? u : "(none)",
        e->units ? e->units : "(none)");
  snprintf(own, sizeof own, "%s@description", e->path); /* a description of its own */
  const sntk_schema_entry_t *de = sntk_schema_find(c->kind, own);
  read_str_attr(ds, "description", &dsc);
  if (c->kind != SNTK_SCHEMA_CHECKPOINT && !(de && !strcmp(de->path, own)) &&
      (!dsc ||
       (strcmp(dsc, e->description) && (!e->description_alt || strcmp(dsc, e->description_alt)))))
    bad(c, "dataset %s: its description differs from the schema's", path);
  free(u);
  free(dsc);
}

static herr_t obj_visit(hid_t f, const char *name, const H5O_info_t *info, void *data) {
  check_t *c = data;
  char path[1100];
  snprintf(path, sizeof path, "/%s", strcmp(name, ".") ? name : "");
  attr_ctx_t a = {c, path, info->type == H5O_TYPE_DATASET};
  hid_t obj = H5Oopen(f, name, H5P_DEFAULT);
  if (obj < 0) {
    H5Eclear2(H5E_DEFAULT);
    return 0; /* the dataset walk reports it */
  }
  if (strcmp(name, ".")) {
    const sntk_schema_entry_t *e = sntk_schema_find(c->kind, path);
    const sntk_schema_kind_t want =
        info->type == H5O_TYPE_DATASET ? SNTK_SCHEMA_DATASET : SNTK_SCHEMA_GROUP;
    c->objects++;
    if (!e)
      bad(c, "%s %s is not in the schema of %s files",
          want == SNTK_SCHEMA_GROUP ? "group" : "dataset", path, sntk_schema_file_name(c->kind));
    else if (e->kind != want)
      bad(c, "%s is a %s, the schema declares a %s", path,
          want == SNTK_SCHEMA_GROUP ? "group" : "dataset",
          e->kind == SNTK_SCHEMA_GROUP ? "group" : "dataset");
    else if (want == SNTK_SCHEMA_DATASET)
      check_dataset(c, obj, path, e);
  } else {
    snprintf(path, sizeof path, "/");
  }
  H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, NULL, attr_visit, &a);
  H5Oclose(obj);
  H5Eclear2(H5E_DEFAULT);
  return 0;
}

static int64_t size_attr(hid_t f, const char *name) {
  int64_t v = -1;
  if (H5Aexists(f, name) > 0 && sntk_h5_attr_read_i64(f, name, &v) != SNTK_OK) v = -1;
  H5Eclear2(H5E_DEFAULT);
  return v;
}

int sntk_inspect_check_schema(hid_t file, unsigned kind, FILE *out) {
  check_t c = {out, kind, 0, 0, 0, -1, -1, -1, -1, -1};
  c.n = size_attr(file, "n");
  c.d = size_attr(file, "d");
  c.k = size_attr(file, "k");
  c.m = size_attr(file, "m");
  c.P = size_attr(file, "mpi_size");
  H5Ovisit(file, H5_INDEX_NAME, H5_ITER_INC, obj_visit, &c);
  H5Eclear2(H5E_DEFAULT);
  int n;
  const sntk_schema_entry_t *t = sntk_schema_entries(&n);
  for (int i = 0; i < n; i++) {
    if (!(t[i].files & kind) || !t[i].required || strchr(t[i].path, '<')) continue;
    const char *at = strchr(t[i].path, '@');
    int present;
    if (at) {
      char obj[1024];
      snprintf(obj, sizeof obj, "%.*s", (int)(at - t[i].path), t[i].path);
      present = H5Aexists_by_name(file, obj, at + 1, H5P_DEFAULT) > 0;
    } else {
      present = sntk_h5_exists(file, t[i].path);
    }
    H5Eclear2(H5E_DEFAULT);
    if (!present) bad(&c, "required %s is missing", t[i].path);
  }
  if (!c.problems)
    fprintf(out,
            "  schema (%s): %d objects and %d attributes, all declared, with the declared "
            "types, shapes, units and descriptions: ok\n",
            sntk_schema_file_name(kind), c.objects, c.attrs);
  return c.problems ? SNTK_ERR_RUNTIME : SNTK_OK;
}
