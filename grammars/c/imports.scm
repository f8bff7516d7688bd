; Imports: #include "file.h" and #include <file.h>.

(preproc_include path: (_) @module)
