#ifndef BULKHEAD_CYAML_SHIM_H
#define BULKHEAD_CYAML_SHIM_H
#include <yaml.h>
#endif
