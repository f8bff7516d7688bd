; Imports: #include "file.h", #include <file>, and `using namespace ns;`.

(preproc_include path: (_) @module)
(using_declaration "namespace" [(identifier) (qualified_identifier)] @module)
