; Definitions. Each pattern captures the definition node as @definition.<kind>, its name as
; @name and, when it has one, its body as @body (the signature is the text before it).

(class_definition
  name: (identifier) @name
  body: (block) @body) @definition.class

(function_definition
  name: (identifier) @name
  body: (block) @body) @definition.function

; `name = lambda …` defines a function (ctags agrees), at any level.
(assignment
  left: (identifier) @name
  right: (lambda) @body) @definition.function

; Module- and class-level assignments are what ctags reports as variables.
(module
  (expression_statement
    (assignment left: (identifier) @name) @definition.variable))

(class_definition
  body: (block
    (expression_statement
      (assignment left: (identifier) @name) @definition.field)))
