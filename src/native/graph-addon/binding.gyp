# Built by `durable-fit backend build` (src/native/graph-build.ts) in a staging folder that holds this
# file, the sources and a `deps` folder with the wheel's libtensorflow (lib/) and C headers (include/).
{
  'targets': [{
    'target_name': 'dfit_graph',
    'sources': ['dfit_graph.c'],
    'include_dirs': ['<(module_root_dir)/deps/include'],
    'cflags': ['-O2', '-Wall', '-Wno-unused-parameter'],
    'libraries': ['-Wl,-rpath,\$$ORIGIN/../../deps/lib', '-ltensorflow', '-ltensorflow_framework'],
    'library_dirs': ['<(module_root_dir)/deps/lib'],
  }],
}
