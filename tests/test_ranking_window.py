"""The parse check reads a window of the prompt inside the construct its lines belong in."""

from __future__ import annotations

from app.engine.ranking import Ranker

# A client's window of a long file: it starts among a class's members.
MEMBERS = """        public int ob_refcnt  { get; private set; }
        public int ob_type  { get; private set; }
        public int ob_size  { get; private set; }
        public int tp_name  { get; private set; }
        public int tp_basicsize  { get; private set; }
        public int tp_dealloc  { get; private set; }
        public int tp_vectorcall_offset  { get; private s"""


def test_a_window_of_class_members_is_parsed_inside_a_class() -> None:
    # Cut out of their class, the members parse with an error each, and which candidate
    # then shows one more is the parser's recovery, not the candidate.
    ranker = Ranker("csharp", MEMBERS, None, None)
    assert ranker.parse_errors("et; }") == 0
    assert ranker.parse_errors("et; ) }") > 0


def test_statements_need_no_wrapper_where_the_language_allows_them_anywhere() -> None:
    ranker = Ranker("python", "def f(values):\n    total = 0\n    for v in values:\n"
                              "        total += v\n    return tot", None, None)
    assert ranker.parse_errors("al") == 0
    assert ranker.parse_errors("al)") > 0


# A window of a long file again: from inside a class (pythonnet's PyInt).
METHOD = """        protected PyInt(SerializationInfo info, StreamingContext context)
            : base(info, context) { }


        /// <summary>
        /// IsIntType Method
        /// </summary>
        public static bool IsIntType(PyObject value)
        {
"""
AFTER = """
            return Runtime.PyInt_Check(value.obj);
        }


        /// <summary>
        /// Convert a Python object to a Python int if possible, raising
        /// a PythonException if the conversion is not possible.
        /// </summary>
        public static PyInt AsInt(PyObject value)
        {
            if (value is null) throw new ArgumentNullException(nameof(value));"""


def test_a_suffix_is_read_only_as_far_as_it_closes_the_window() -> None:
    # The lines after the method's closing brace are the class's next members: parsed with
    # a window that starts inside the class, they close brackets it never opened, and the
    # counts then favoured a broken line over the right one.
    ranker = Ranker("csharp", METHOD, AFTER, None)
    right = "            if (value is null) throw new ArgumentNullException(nameof(value));"
    broken = "            if (value is null) throw new ArgumentNullException(nameof(value is null)"
    assert ranker.parse_errors(right) == 0
    assert ranker.parse_errors(broken) > 0
