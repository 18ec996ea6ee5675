/* One TF_SessionRun call: feeds in, fetches out (copied into new ArrayBuffers), targets run. */

static Session *unwrap_session(napi_env env, napi_value value) {
  void *data = NULL;
  if (napi_get_value_external(env, value, &data) != napi_ok) return NULL;
  Session *s = (Session *)data;
  return s->session ? s : NULL;
}

typedef struct {
  TF_Output *feeds;
  TF_Tensor **feed_values;
  uint32_t feed_count;
  TF_Output *fetches;
  TF_Tensor **fetch_values;
  uint32_t fetch_count;
  TF_Operation **targets;
  uint32_t target_count;
} RunArgs;

static void free_run_args(RunArgs *r) {
  for (uint32_t i = 0; i < r->feed_count; i++)
    if (r->feed_values[i]) TF_DeleteTensor(r->feed_values[i]);
  for (uint32_t i = 0; i < r->fetch_count; i++)
    if (r->fetch_values[i]) TF_DeleteTensor(r->fetch_values[i]);
  free(r->feeds);
  free(r->feed_values);
  free(r->fetches);
  free(r->fetch_values);
  free(r->targets);
}

/* feeds: [[op, index, dtype, shape, data], …] */
static int read_feeds(napi_env env, Graph *g, napi_value feeds, RunArgs *r, char *error, size_t size) {
  r->feed_count = array_length(env, feeds);
  r->feeds = (TF_Output *)calloc(r->feed_count + 1, sizeof(TF_Output));
  r->feed_values = (TF_Tensor **)calloc(r->feed_count + 1, sizeof(TF_Tensor *));
  for (uint32_t i = 0; i < r->feed_count; i++) {
    napi_value feed, parts[3];
    if (get_array_element(env, feeds, i, &feed) || get_output(env, g, feed, &r->feeds[i]) ||
        get_array_element(env, feed, 2, &parts[0]) || get_array_element(env, feed, 3, &parts[1]) ||
        get_array_element(env, feed, 4, &parts[2])) {
      snprintf(error, size, "feed %u: expected [op, index, dtype, shape, data]", i);
      return -1;
    }
    r->feed_values[i] = make_tensor(env, parts[0], parts[1], parts[2], error, size);
    if (!r->feed_values[i]) return -1;
  }
  return 0;
}

static int read_outputs(napi_env env, Graph *g, napi_value fetches, napi_value targets, RunArgs *r) {
  r->fetch_count = array_length(env, fetches);
  r->fetches = (TF_Output *)calloc(r->fetch_count + 1, sizeof(TF_Output));
  r->fetch_values = (TF_Tensor **)calloc(r->fetch_count + 1, sizeof(TF_Tensor *));
  for (uint32_t i = 0; i < r->fetch_count; i++) {
    napi_value pair;
    if (get_array_element(env, fetches, i, &pair) || get_output(env, g, pair, &r->fetches[i])) return -1;
  }
  r->target_count = array_length(env, targets);
  r->targets = (TF_Operation **)calloc(r->target_count + 1, sizeof(TF_Operation *));
  for (uint32_t i = 0; i < r->target_count; i++) {
    napi_value element;
    int64_t index;
    if (get_array_element(env, targets, i, &element) || get_int64(env, element, &index) || index < 0 ||
        (size_t)index >= g->count)
      return -1;
    r->targets[i] = g->ops[index];
  }
  return 0;
}

/* run(session, feeds, fetches, targets): [{ dtype, shape, data: ArrayBuffer }, …] per fetch. */
static napi_value run_session(napi_env env, napi_callback_info info) {
  napi_value args[4];
  if (!get_args(env, info, 4, args)) return NULL;
  Session *s = unwrap_session(env, args[0]);
  if (!s) {
    napi_throw_error(env, NULL, "dfit_graph.run: the session is closed");
    return NULL;
  }
  RunArgs r;
  memset(&r, 0, sizeof r);
  char error[1024] = "";
  if (read_feeds(env, s->graph, args[1], &r, error, sizeof error) ||
      (read_outputs(env, s->graph, args[2], args[3], &r) && snprintf(error, sizeof error, "bad fetch or target"))) {
    free_run_args(&r);
    napi_throw_error(env, NULL, error);
    return NULL;
  }
  TF_Status *status = TF_NewStatus();
  TF_SessionRun(s->session, NULL, r.feeds, r.feed_values, (int)r.feed_count, r.fetches, r.fetch_values,
                (int)r.fetch_count, (const TF_Operation *const *)r.targets, (int)r.target_count, NULL, status);
  if (TF_GetCode(status) != TF_OK) {
    free_run_args(&r);
    return throw_status(env, "session run", status);
  }
  TF_DeleteStatus(status);
  napi_value result;
  napi_create_array_with_length(env, r.fetch_count, &result);
  for (uint32_t i = 0; i < r.fetch_count; i++) napi_set_element(env, result, i, tensor_to_js(env, r.fetch_values[i]));
  free_run_args(&r);
  return result;
}

/* closeSession(session): frees the session's resources now (variables included). */
static napi_value close_session(napi_env env, napi_callback_info info) {
  napi_value args[1];
  if (!get_args(env, info, 1, args)) return NULL;
  void *data = NULL;
  if (napi_get_value_external(env, args[0], &data) != napi_ok) return NULL;
  close_tf_session((Session *)data);
  return NULL;
}

/* version(): TensorFlow's version string. */
static napi_value tf_version(napi_env env, napi_callback_info info) {
  napi_value result;
  napi_create_string_utf8(env, TF_Version(), NAPI_AUTO_LENGTH, &result);
  return result;
}
