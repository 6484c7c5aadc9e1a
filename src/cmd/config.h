/* The configuration file (YAML): `--config FILE`, else <data dir>/koban.yaml
 * when it exists, else built-in defaults. config/koban.yaml documents every
 * key. A file with an error is refused as a whole, naming file and line. */
#ifndef KB_CMD_CONFIG_H
#define KB_CMD_CONFIG_H

#include "cmd/cmd.h"
#include "ingest/ingest.h"

typedef struct kb_config {
    char *path;               /* the file read, or NULL for defaults */
    kb_field_map json_map;    /* ingest.json.fields */
    kb_field_map_row *rows;   /* storage of json_map */
    char *strings;            /* storage of the rows' names */
} kb_config;

/* Loads the configuration the command line names. Returns KB_OK, or an
 * error after printing "path:line: reason" to stderr. */
int kb_config_load(const kb_cli *cli, kb_config *cfg);
void kb_config_release(kb_config *cfg);

#endif
