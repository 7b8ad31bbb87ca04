"""The wire module alone: values to text, lines to values. No server."""
import math
import unittest

from parendb import F, _wire, all_of, errors


class Literals(unittest.TestCase):
    def test_scalars(self):
        self.assertEqual(_wire.literal(None), "null")
        self.assertEqual(_wire.literal(True), "true")
        self.assertEqual(_wire.literal(False), "false")
        self.assertEqual(_wire.literal(-12), "-12")
        self.assertEqual(_wire.literal(2.0), "2.0")  # a double stays a double
        self.assertEqual(_wire.literal(1e300), "1e+300")
        self.assertEqual(_wire.literal(2**63 - 1), "9223372036854775807")

    def test_strings_are_data(self):
        for s in ['a"b', "(rmcoll c)", "x) (delete s", "; comment", "line\nbreak", "tab\t", "\\", "\x00\x1f", "é😀"]:
            self.assertEqual(_wire.literal(s)[0], '"')
            import json
            self.assertEqual(json.loads(_wire.literal(s)), s)
            self.assertNotIn("\n", _wire.literal(s))

    def test_refused(self):
        with self.assertRaises(OverflowError):
            _wire.literal(2**63)
        with self.assertRaises(ValueError):
            _wire.literal(math.nan)
        with self.assertRaises(ValueError):
            _wire.literal(math.inf)
        with self.assertRaises(TypeError):
            _wire.literal([1])
        with self.assertRaises(TypeError):
            _wire.literal({"a": 1})

    def test_lone_surrogate_sends_nothing(self):
        with self.assertRaisesRegex(ValueError, "surrogate"):
            _wire.encode(_wire.literal("a\ud800b"))


class Names(unittest.TestCase):
    def test_rule(self):
        for ok in ["a", "_x", "acc-2", "A_b-9"]:
            self.assertEqual(_wire.check_name(ok), ok)
        for bad in ["", "9a", "a b", "a(", 'a"', "é", "-a", "select", "coll", "f", "null", "mkindex", "r"]:
            with self.assertRaises(ValueError, msg=bad):
                _wire.check_name(bad)
        with self.assertRaises(TypeError):
            _wire.check_name(3)


class Paths(unittest.TestCase):
    def test_quoted_form(self):
        self.assertEqual(F("a", "b", 0).text, '(f "a" "b" 0)')
        self.assertEqual(F("first name").text, '(f "first name")')
        self.assertEqual(F('")(').text, '(f "\\")(")')
        with self.assertRaises(ValueError):
            F("a", -1)
        with self.assertRaises(ValueError):
            F()
        with self.assertRaises(TypeError):
            F(True)
        F(1)  # cached as text: True and 1.0 (equal keys to 1) must still be refused
        with self.assertRaises(TypeError):
            F(True)
        with self.assertRaises(TypeError):
            F(1.0)


class Conditions(unittest.TestCase):
    def test_operators(self):
        c = (F("age") > 60) & ~F("x").exists() | (F("n") == None)  # noqa: E711
        self.assertEqual(c.text, '(| (& (> (f "age") 60) (! (exists (f "x")))) (= (f "n") null))')
        self.assertEqual((10 - F("a") * 2).text, '(- 10 (* (f "a") 2))')
        self.assertEqual(F("a").isin([1, "x"]).text, '(in (f "a") 1 "x")')
        self.assertEqual(F("a").isin().text, "false")
        self.assertEqual(all_of().text, "true")

    def test_no_truth_value(self):
        with self.assertRaises(TypeError):
            bool(F("a") == 1)
        with self.assertRaises(TypeError):
            1 < F("a") < 3  # chained: would need and


class Acquire(unittest.TestCase):
    def test_timeout_and_staleness(self):
        self.assertEqual(_wire.acquire("t", None), "(acquire t)")
        self.assertEqual(_wire.acquire("t", 500), "(acquire t 500)")
        self.assertEqual(_wire.acquire("t", None, 100), "(acquire t (stale 100))")
        self.assertEqual(_wire.acquire("t", 0, 0), "(acquire t 0 (stale 0))")
        for bad in (-1, True, 1.5, "5"):
            with self.assertRaises(ValueError):
                _wire.acquire("t", None, bad)
            with self.assertRaises(ValueError):
                _wire.acquire("t", bad)


class Documents(unittest.TestCase):
    def test_checked(self):
        self.assertEqual(_wire.document({"a": [1, 2.5, None, {"b": "c"}]}), '{"a":[1,2.5,null,{"b":"c"}]}')
        with self.assertRaises(TypeError):
            _wire.document({1: "a"})  # json would write "1": silently different
        with self.assertRaises(OverflowError):
            _wire.document({"a": [2**64]})
        with self.assertRaises(ValueError):
            _wire.document({"a": math.nan})
        with self.assertRaises(TypeError):
            _wire.document([1])
        with self.assertRaises(TypeError):
            _wire.document({"a": object()})


class Responses(unittest.TestCase):
    def test_lines(self):
        self.assertEqual(_wire.parse_line("(ok updated 3)"), ("updated", "3"))
        self.assertEqual(_wire.parse_line('{"_id":1,"a":[1,2.0]}'), {"_id": 1, "a": [1, 2.0]})
        self.assertIsNone(_wire.parse_line("null"))
        e = _wire.parse_line('(error check-failed "no \\"quote\\"")')
        self.assertIsInstance(e, errors.CheckFailedError)
        self.assertEqual((e.code, e.message), ("check-failed", 'no "quote"'))
        with self.assertRaises(errors.ProtocolError):
            _wire.parse_line("garbage")

    def test_every_code_has_its_class(self):
        codes = ("syntax unknown-statement arity bad-name duplicate-name unknown-transaction unknown-selection "
                 "unknown-collection collection-exists stage lock-mode type bad-document duplicate-id check-failed "
                 "lock-timeout deadlock conflict limit auth io internal index-exists unknown-index duplicate-key "
                 "not-leader unavailable").split()
        for code in codes:
            e = _wire.parse_line(f'(error {code} "m")')
            self.assertEqual(type(e), errors.CLASSES[code])
            self.assertEqual(e.code, code)
            self.assertIsInstance(e, errors.ServerError)
        self.assertEqual(set(codes), set(errors.CLASSES))
        retryable = {c for c in codes if errors.CLASSES[c].retryable}
        self.assertEqual(retryable, {"deadlock", "lock-timeout", "conflict"})
        self.assertTrue(issubclass(errors.UnavailableError, errors.OutcomeUnknownError))
        unknown = _wire.parse_line('(error brand-new "m")')
        self.assertEqual((type(unknown), unknown.code), (errors.ServerError, "brand-new"))

    def test_line_reader(self):
        r = _wire.LineReader()
        self.assertEqual(r.feed(b"(ok po"), [])
        self.assertEqual(r.feed("ng)\n\"é".encode()[:-1]), ["(ok pong)"])
        self.assertEqual(r.feed("é".encode()[-1:] + b'"\n'), ['"é"'])


if __name__ == "__main__":
    unittest.main()
