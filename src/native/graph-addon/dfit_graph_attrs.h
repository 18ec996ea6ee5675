/* Operation attributes, in tfjs-node's encoding: { name, type: TF_AttrType, value }. */

/* Sets one attribute on `desc`; writes a message to `error` and returns -1 when it cannot. */
static int set_attr(napi_env env, TF_OperationDescription *desc, napi_value attr, char *error, size_t error_size) {
  napi_value name_v, type_v, value;
  char name[256];
  int32_t type;
  if (get_property(env, attr, "name", &name_v) || get_string(env, name_v, name, sizeof name) ||
      get_property(env, attr, "type", &type_v) || napi_get_value_int32(env, type_v, &type) != napi_ok ||
      get_property(env, attr, "value", &value)) {
    snprintf(error, error_size, "an attribute needs a name, a type and a value");
    return -1;
  }
  int list = is_array(env, value) && type != TF_ATTR_SHAPE;
  uint32_t n = list ? array_length(env, value) : 0;
  switch (type) {
    case TF_ATTR_STRING: {
      char text[4096];
      size_t length;
      if (napi_get_value_string_utf8(env, value, text, sizeof text, &length) != napi_ok) break;
      TF_SetAttrString(desc, name, text, length);
      return 0;
    }
    case TF_ATTR_INT:
    case TF_ATTR_TYPE: {
      int64_t *values = (int64_t *)calloc(n ? n : 1, sizeof(int64_t));
      int bad = 0;
      for (uint32_t i = 0; i < n && !bad; i++) {
        napi_value element;
        bad = get_array_element(env, value, i, &element) || get_int64(env, element, &values[i]);
      }
      if (!list) bad = get_int64(env, value, &values[0]);
      if (!bad && type == TF_ATTR_INT && list) TF_SetAttrIntList(desc, name, values, (int)n);
      if (!bad && type == TF_ATTR_INT && !list) TF_SetAttrInt(desc, name, values[0]);
      if (!bad && type == TF_ATTR_TYPE && !list) TF_SetAttrType(desc, name, (TF_DataType)values[0]);
      if (!bad && type == TF_ATTR_TYPE && list) {
        TF_DataType *types = (TF_DataType *)calloc(n ? n : 1, sizeof(TF_DataType));
        for (uint32_t i = 0; i < n; i++) types[i] = (TF_DataType)values[i];
        TF_SetAttrTypeList(desc, name, types, (int)n);
        free(types);
      }
      free(values);
      if (bad) break;
      return 0;
    }
    case TF_ATTR_FLOAT: {
      float *values = (float *)calloc(n ? n : 1, sizeof(float));
      int bad = 0;
      for (uint32_t i = 0; i <= n && !bad; i++) {
        napi_value element = value;
        double d;
        if (list && i == n) break;
        if (list) bad = get_array_element(env, value, i, &element);
        bad = bad || napi_get_value_double(env, element, &d) != napi_ok;
        values[i] = (float)d;
        if (!list) break;
      }
      if (!bad && list) TF_SetAttrFloatList(desc, name, values, (int)n);
      if (!bad && !list) TF_SetAttrFloat(desc, name, values[0]);
      free(values);
      if (bad) break;
      return 0;
    }
    case TF_ATTR_BOOL: {
      unsigned char *values = (unsigned char *)calloc(n ? n : 1, 1);
      int bad = 0;
      for (uint32_t i = 0; i < (list ? n : 1) && !bad; i++) {
        napi_value element = value;
        bool b;
        if (list) bad = get_array_element(env, value, i, &element);
        bad = bad || napi_get_value_bool(env, element, &b) != napi_ok;
        values[i] = b ? 1 : 0;
      }
      if (!bad && list) TF_SetAttrBoolList(desc, name, values, (int)n);
      if (!bad && !list) TF_SetAttrBool(desc, name, values[0]);
      free(values);
      if (bad) break;
      return 0;
    }
    case TF_ATTR_SHAPE: {
      int64_t dims[16];
      int rank;
      napi_valuetype kind;
      napi_typeof(env, value, &kind);
      if (kind == napi_null || kind == napi_undefined) {
        TF_SetAttrShape(desc, name, NULL, -1); /* unknown rank */
        return 0;
      }
      if (get_shape(env, value, dims, &rank)) break;
      TF_SetAttrShape(desc, name, dims, rank);
      return 0;
    }
    case TF_ATTR_TENSOR: {
      napi_value dtype_v, shape_v, data_v;
      if (get_property(env, value, "dtype", &dtype_v) || get_property(env, value, "shape", &shape_v) ||
          get_property(env, value, "data", &data_v))
        break;
      TF_Tensor *tensor = make_tensor(env, dtype_v, shape_v, data_v, error, error_size);
      if (!tensor) return -1;
      TF_Status *status = TF_NewStatus();
      TF_SetAttrTensor(desc, name, tensor, status);
      TF_DeleteTensor(tensor);
      int failed = TF_GetCode(status) != TF_OK;
      if (failed) snprintf(error, error_size, "attribute %s: %s", name, TF_Message(status));
      TF_DeleteStatus(status);
      return failed ? -1 : 0;
    }
    default:
      snprintf(error, error_size, "attribute %s has type %d, which dfit_graph does not support", name, type);
      return -1;
  }
  snprintf(error, error_size, "attribute %s (type %d): its value does not fit the type", name, type);
  return -1;
}
