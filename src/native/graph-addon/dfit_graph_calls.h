/* The functions JavaScript calls. */

static napi_value get_args(napi_env env, napi_callback_info info, size_t want, napi_value *args) {
  size_t argc = want;
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  if (argc < want) {
    napi_throw_error(env, NULL, "dfit_graph: too few arguments");
    return NULL;
  }
  return args[0];
}

static Graph *unwrap_graph(napi_env env, napi_value value) {
  void *data = NULL;
  if (napi_get_value_external(env, value, &data) != napi_ok) return NULL;
  return (Graph *)data;
}

/* newGraph(): an empty graph. */
static napi_value new_graph(napi_env env, napi_callback_info info) {
  Graph *g = (Graph *)calloc(1, sizeof(Graph));
  g->graph = TF_NewGraph();
  napi_value result;
  CHECK_NAPI(napi_create_external(env, g, finalize_graph, NULL, &result));
  return result;
}

static int add_inputs(napi_env env, Graph *g, TF_OperationDescription *desc, napi_value inputs) {
  uint32_t n = array_length(env, inputs);
  for (uint32_t i = 0; i < n; i++) {
    napi_value input, first;
    if (get_array_element(env, inputs, i, &input) || get_array_element(env, input, 0, &first)) return -1;
    if (!is_array(env, first)) {
      TF_Output out;
      if (get_output(env, g, input, &out)) return -1;
      TF_AddInput(desc, out);
      continue;
    }
    uint32_t m = array_length(env, input);
    TF_Output *list = (TF_Output *)calloc(m ? m : 1, sizeof(TF_Output));
    int bad = 0;
    for (uint32_t j = 0; j < m && !bad; j++) {
      napi_value pair;
      bad = get_array_element(env, input, j, &pair) || get_output(env, g, pair, &list[j]);
    }
    if (!bad) TF_AddInputList(desc, list, (int)m);
    free(list);
    if (bad) return -1;
  }
  return 0;
}

/* addOp(graph, type, inputs, attrs, controlOps): the new operation's index. */
static napi_value add_op(napi_env env, napi_callback_info info) {
  napi_value args[5];
  if (!get_args(env, info, 5, args)) return NULL;
  Graph *g = unwrap_graph(env, args[0]);
  char type[128], name[192], error[1024] = "";
  if (!g || get_string(env, args[1], type, sizeof type)) {
    napi_throw_error(env, NULL, "dfit_graph.addOp(graph, type, inputs, attrs, controls)");
    return NULL;
  }
  snprintf(name, sizeof name, "n%zu_%s", g->count, type);
  TF_OperationDescription *desc = TF_NewOperation(g->graph, type, name);
  if (add_inputs(env, g, desc, args[2])) snprintf(error, sizeof error, "%s: bad input reference", type);
  uint32_t n = array_length(env, args[3]);
  for (uint32_t i = 0; i < n && !error[0]; i++) {
    napi_value attr;
    if (get_array_element(env, args[3], i, &attr) == 0) set_attr(env, desc, attr, error, sizeof error);
  }
  uint32_t c = array_length(env, args[4]);
  for (uint32_t i = 0; i < c && !error[0]; i++) {
    napi_value element;
    int64_t index;
    if (get_array_element(env, args[4], i, &element) || get_int64(env, element, &index) || index < 0 ||
        (size_t)index >= g->count)
      snprintf(error, sizeof error, "%s: bad control input", type);
    else
      TF_AddControlInput(desc, g->ops[index]);
  }
  TF_Status *status = TF_NewStatus();
  TF_Operation *op = TF_FinishOperation(desc, status); /* also frees desc on error */
  if (error[0]) {
    TF_DeleteStatus(status);
    napi_throw_error(env, NULL, error);
    return NULL;
  }
  if (TF_GetCode(status) != TF_OK) return throw_status(env, type, status);
  TF_DeleteStatus(status);
  if (g->count == g->capacity) {
    g->capacity = g->capacity ? g->capacity * 2 : 64;
    g->ops = (TF_Operation **)realloc(g->ops, g->capacity * sizeof(TF_Operation *));
  }
  g->ops[g->count] = op;
  napi_value result;
  CHECK_NAPI(napi_create_int64(env, (int64_t)g->count++, &result));
  return result;
}

/* A Node Buffer with a copy of `buffer`'s bytes; frees `buffer`. */
static napi_value buffer_to_js(napi_env env, TF_Buffer *buffer) {
  napi_value result;
  void *copy;
  napi_create_buffer_copy(env, buffer->length, buffer->data, &copy, &result);
  TF_DeleteBuffer(buffer);
  return result;
}

/* opDef(graph, type): the op's serialized OpDef protocol buffer. */
static napi_value op_def(napi_env env, napi_callback_info info) {
  napi_value args[2];
  if (!get_args(env, info, 2, args)) return NULL;
  Graph *g = unwrap_graph(env, args[0]);
  char type[128];
  if (!g || get_string(env, args[1], type, sizeof type)) return NULL;
  TF_Buffer *buffer = TF_NewBuffer();
  TF_Status *status = TF_NewStatus();
  TF_GraphGetOpDef(g->graph, type, buffer, status);
  if (TF_GetCode(status) != TF_OK) {
    TF_DeleteBuffer(buffer);
    return throw_status(env, type, status);
  }
  TF_DeleteStatus(status);
  return buffer_to_js(env, buffer);
}

/* graphDef(graph): the graph as a serialized GraphDef (for profiling it with TensorFlow's tools). */
static napi_value graph_def(napi_env env, napi_callback_info info) {
  napi_value args[1];
  if (!get_args(env, info, 1, args)) return NULL;
  Graph *g = unwrap_graph(env, args[0]);
  if (!g) return NULL;
  TF_Buffer *buffer = TF_NewBuffer();
  TF_Status *status = TF_NewStatus();
  TF_GraphToGraphDef(g->graph, buffer, status);
  if (TF_GetCode(status) != TF_OK) {
    TF_DeleteBuffer(buffer);
    return throw_status(env, "graphDef", status);
  }
  TF_DeleteStatus(status);
  return buffer_to_js(env, buffer);
}

/* outputShape(graph, op, index): the inferred shape (-1 for unknown dims), or null if unknown rank. */
static napi_value output_shape(napi_env env, napi_callback_info info) {
  napi_value args[3], result;
  if (!get_args(env, info, 3, args)) return NULL;
  Graph *g = unwrap_graph(env, args[0]);
  TF_Output out;
  napi_value pair;
  napi_create_array_with_length(env, 2, &pair);
  napi_set_element(env, pair, 0, args[1]);
  napi_set_element(env, pair, 1, args[2]);
  if (!g || get_output(env, g, pair, &out)) return NULL;
  TF_Status *status = TF_NewStatus();
  int rank = TF_GraphGetTensorNumDims(g->graph, out, status);
  if (TF_GetCode(status) != TF_OK) return throw_status(env, "outputShape", status);
  if (rank < 0) {
    TF_DeleteStatus(status);
    napi_get_null(env, &result);
    return result;
  }
  int64_t dims[64];
  TF_GraphGetTensorShape(g->graph, out, dims, rank, status);
  TF_DeleteStatus(status);
  napi_create_array_with_length(env, rank, &result);
  for (int i = 0; i < rank; i++) {
    napi_value dim;
    napi_create_int64(env, dims[i], &dim);
    napi_set_element(env, result, i, dim);
  }
  return result;
}

/* newSession(graph, configProto: Buffer): a session on the graph (Grappler and oneDNN rewrites run). */
static napi_value new_session(napi_env env, napi_callback_info info) {
  napi_value args[2];
  if (!get_args(env, info, 2, args)) return NULL;
  Graph *g = unwrap_graph(env, args[0]);
  void *config;
  size_t config_bytes;
  if (!g || get_bytes(env, args[1], &config, &config_bytes)) {
    napi_throw_error(env, NULL, "dfit_graph.newSession(graph, configProto)");
    return NULL;
  }
  TF_Status *status = TF_NewStatus();
  TF_SessionOptions *options = TF_NewSessionOptions();
  TF_SetConfig(options, config, config_bytes, status);
  if (TF_GetCode(status) != TF_OK) {
    TF_DeleteSessionOptions(options);
    return throw_status(env, "session config", status);
  }
  TF_Session *session = TF_NewSession(g->graph, options, status);
  TF_DeleteSessionOptions(options);
  if (TF_GetCode(status) != TF_OK) return throw_status(env, "new session", status);
  TF_DeleteStatus(status);
  Session *s = (Session *)calloc(1, sizeof(Session));
  s->session = session;
  s->graph = g;
  napi_value result;
  CHECK_NAPI(napi_create_external(env, s, finalize_session, NULL, &result));
  return result;
}

static napi_value tensor_to_js(napi_env env, TF_Tensor *tensor) {
  napi_value result, dtype, shape, data;
  int rank = TF_NumDims(tensor);
  size_t bytes = TF_TensorByteSize(tensor);
  void *copy;
  napi_create_object(env, &result);
  napi_create_int32(env, (int32_t)TF_TensorType(tensor), &dtype);
  napi_create_array_with_length(env, rank, &shape);
  for (int i = 0; i < rank; i++) {
    napi_value dim;
    napi_create_int64(env, TF_Dim(tensor, i), &dim);
    napi_set_element(env, shape, i, dim);
  }
  napi_create_arraybuffer(env, bytes, &copy, &data);
  if (bytes) memcpy(copy, TF_TensorData(tensor), bytes);
  napi_set_named_property(env, result, "dtype", dtype);
  napi_set_named_property(env, result, "shape", shape);
  napi_set_named_property(env, result, "data", data);
  return result;
}

#include "dfit_graph_run.h"
