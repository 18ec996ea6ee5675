/*
 * dfit_graph: a small N-API addon over the TensorFlow C API's graph and session functions, for
 * durable-fit's graph-mode training step (src/training/graph/). JavaScript builds one graph from the
 * ops a traced tfjs-node step executed (TF_NewOperation with the same op names and attributes),
 * opens one session on it and runs each training step as one TF_SessionRun call.
 *
 * Attributes use tfjs-node's encoding ({ name, type: TF_AttrType, value }, arrays for lists), plus
 * TF_ATTR_TENSOR values { dtype, shape, data } for constants. Inputs are [op, output] pairs; an
 * array of pairs is a list input (TF_AddInputList).
 */
#include <node_api.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include "tensorflow/c/c_api.h"

#define CHECK_NAPI(call)                                                      \
  do {                                                                        \
    if ((call) != napi_ok) {                                                  \
      napi_throw_error(env, NULL, "dfit_graph: N-API call failed: " #call);   \
      return NULL;                                                            \
    }                                                                         \
  } while (0)

typedef struct {
  TF_Graph *graph;
  TF_Operation **ops;
  size_t count;
  size_t capacity;
} Graph;

typedef struct {
  TF_Session *session;
  Graph *graph;
} Session;

static napi_value throw_status(napi_env env, const char *what, TF_Status *status) {
  char message[2048];
  snprintf(message, sizeof message, "%s: %s", what, TF_Message(status));
  TF_DeleteStatus(status);
  napi_throw_error(env, NULL, message);
  return NULL;
}

static void finalize_graph(napi_env env, void *data, void *hint) {
  Graph *g = (Graph *)data;
  TF_DeleteGraph(g->graph);
  free(g->ops);
  free(g);
}

/* Closes and frees the TF session (its variables too); safe to call twice. */
static void close_tf_session(Session *s) {
  if (!s->session) return;
  TF_Status *status = TF_NewStatus();
  TF_CloseSession(s->session, status);
  TF_DeleteSession(s->session, status);
  TF_DeleteStatus(status);
  s->session = NULL;
}

static void finalize_session(napi_env env, void *data, void *hint) {
  Session *s = (Session *)data;
  close_tf_session(s);
  free(s);
}

static int get_string(napi_env env, napi_value value, char *out, size_t size) {
  size_t length;
  return napi_get_value_string_utf8(env, value, out, size, &length) == napi_ok ? 0 : -1;
}

static int get_int64(napi_env env, napi_value value, int64_t *out) {
  return napi_get_value_int64(env, value, out) == napi_ok ? 0 : -1;
}

static int get_array_element(napi_env env, napi_value array, uint32_t i, napi_value *out) {
  return napi_get_element(env, array, i, out) == napi_ok ? 0 : -1;
}

static int is_array(napi_env env, napi_value value) {
  bool result = false;
  napi_is_array(env, value, &result);
  return result;
}

static uint32_t array_length(napi_env env, napi_value array) {
  uint32_t length = 0;
  napi_get_array_length(env, array, &length);
  return length;
}

static int get_property(napi_env env, napi_value object, const char *name, napi_value *out) {
  return napi_get_named_property(env, object, name, out) == napi_ok ? 0 : -1;
}

/* Raw bytes of a TypedArray, Buffer or ArrayBuffer. */
static int get_bytes(napi_env env, napi_value value, void **data, size_t *bytes) {
  bool flag = false;
  napi_is_typedarray(env, value, &flag);
  if (flag) {
    napi_typedarray_type type;
    size_t length, offset;
    napi_value buffer;
    if (napi_get_typedarray_info(env, value, &type, &length, data, &buffer, &offset) != napi_ok) return -1;
    static const size_t sizes[] = {1, 1, 1, 2, 2, 4, 4, 4, 8, 8, 8};
    *bytes = length * (type <= napi_biguint64_array ? sizes[type] : 1);
    return 0;
  }
  napi_is_arraybuffer(env, value, &flag);
  if (flag) return napi_get_arraybuffer_info(env, value, data, bytes) == napi_ok ? 0 : -1;
  napi_is_buffer(env, value, &flag);
  if (flag) return napi_get_buffer_info(env, value, data, bytes) == napi_ok ? 0 : -1;
  return -1;
}

static int get_shape(napi_env env, napi_value array, int64_t *dims, int *rank) {
  uint32_t n = array_length(env, array);
  if (n > 16) return -1;
  for (uint32_t i = 0; i < n; i++) {
    napi_value element;
    if (get_array_element(env, array, i, &element) || get_int64(env, element, &dims[i])) return -1;
  }
  *rank = (int)n;
  return 0;
}

/* A TF_Tensor holding a copy of `data` (checked against dtype and shape). */
static TF_Tensor *make_tensor(napi_env env, napi_value dtype_v, napi_value shape_v, napi_value data_v,
                              char *error, size_t error_size) {
  int32_t dtype;
  int64_t dims[16];
  int rank;
  void *data;
  size_t bytes;
  if (napi_get_value_int32(env, dtype_v, &dtype) != napi_ok || get_shape(env, shape_v, dims, &rank) ||
      get_bytes(env, data_v, &data, &bytes)) {
    snprintf(error, error_size, "a tensor needs a dtype, a shape (rank <= 16) and a typed array");
    return NULL;
  }
  int64_t elements = 1;
  for (int i = 0; i < rank; i++) elements *= dims[i];
  size_t want = (size_t)elements * TF_DataTypeSize((TF_DataType)dtype);
  if (want != bytes) {
    snprintf(error, error_size, "tensor data has %zu bytes, its dtype and shape need %zu", bytes, want);
    return NULL;
  }
  TF_Tensor *tensor = TF_AllocateTensor((TF_DataType)dtype, dims, rank, want);
  if (want) memcpy(TF_TensorData(tensor), data, want);
  return tensor;
}

static int get_output(napi_env env, Graph *g, napi_value pair, TF_Output *out) {
  napi_value op_v, index_v;
  int64_t op, index;
  if (!is_array(env, pair) || get_array_element(env, pair, 0, &op_v) ||
      get_array_element(env, pair, 1, &index_v) || get_int64(env, op_v, &op) || get_int64(env, index_v, &index))
    return -1;
  if (op < 0 || (size_t)op >= g->count) return -1;
  out->oper = g->ops[op];
  out->index = (int)index;
  return 0;
}

#include "dfit_graph_attrs.h"
#include "dfit_graph_calls.h"

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"newGraph", NULL, new_graph, NULL, NULL, NULL, napi_default, NULL},
      {"addOp", NULL, add_op, NULL, NULL, NULL, napi_default, NULL},
      {"opDef", NULL, op_def, NULL, NULL, NULL, napi_default, NULL},
      {"graphDef", NULL, graph_def, NULL, NULL, NULL, napi_default, NULL},
      {"outputShape", NULL, output_shape, NULL, NULL, NULL, napi_default, NULL},
      {"newSession", NULL, new_session, NULL, NULL, NULL, napi_default, NULL},
      {"run", NULL, run_session, NULL, NULL, NULL, napi_default, NULL},
      {"closeSession", NULL, close_session, NULL, NULL, NULL, napi_default, NULL},
      {"version", NULL, tf_version, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK_NAPI(napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
