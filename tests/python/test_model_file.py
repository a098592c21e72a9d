"""Model files: est.save / multilogit.load round trips, the bytes of docs/model-format.md, and
clear errors for files that are not valid model files.

The bytes are produced and parsed by the C++ core, so the C++ and Python sides share one
implementation. What crosses languages is checked twice: the golden files below are the exact
bytes tests/cpp/test_model_file.cpp expects multilogit::encode_model to write, and an
independent reader and writer (struct and zlib only, following docs/model-format.md) must agree
with multilogit on every file.
"""

import io
import math
import pathlib
import pickle
import struct
import zlib

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.exceptions import NotFittedError

import multilogit
from multilogit import LogisticRegression

STRATEGIES = ["softmax", "ovr", "ovo"]

# --------------------------------------------------------------------------------------------
# An independent implementation of docs/model-format.md, version 1.

MAGIC = b"\x89MLOGIT\n"
HEADER = struct.Struct("<8sIIQ")  # magic, version, CRC-32 of the payload, payload size
FIXED = struct.Struct("<BBBBIQdddI")  # strategy .. max_iter
STRATEGY_CODES = {"softmax": 1, "ovr": 2, "ovo": 3}
DTYPE_CODES = {np.dtype(np.float32): 1, np.dtype(np.float64): 2}


def n_units(strategy, n_classes):
    if n_classes == 2:
        return 1
    return n_classes * (n_classes - 1) // 2 if strategy == "ovo" else n_classes


def reference_read(data):
    magic, version, crc, size = HEADER.unpack_from(data)
    assert magic == MAGIC and version == 1
    payload = data[HEADER.size:]
    assert size == len(payload) and zlib.crc32(payload) == crc
    strategy, scalar, label_type, flags, K, d, C, l1_ratio, tol, max_iter = FIXED.unpack_from(payload)
    offset = FIXED.size

    def strings(count):
        nonlocal offset
        out = []
        for _ in range(count):
            (length,) = struct.unpack_from("<I", payload, offset)
            out.append(payload[offset + 4 : offset + 4 + length].decode("utf-8"))
            offset += 4 + length
        return out

    if label_type == 1:
        classes = np.frombuffer(payload, "<i8", K, offset).copy()
        offset += 8 * K
    else:
        assert label_type == 2
        classes = strings(K)
    names = strings(d) if flags & 2 else None
    strategy = {v: k for k, v in STRATEGY_CODES.items()}[strategy]
    dtype = np.dtype("<f4" if scalar == 1 else "<f8")
    units = n_units(strategy, K)
    coef = np.frombuffer(payload, dtype, units * d, offset).reshape(units, d)
    offset += coef.nbytes
    intercept = np.frombuffer(payload, dtype, units, offset)
    offset += intercept.nbytes
    assert offset == len(payload)
    return dict(strategy=strategy, classes=classes, feature_names=names, coef=coef,
                intercept=intercept, C=C, l1_ratio=l1_ratio, fit_intercept=bool(flags & 1),
                tol=tol, max_iter=max_iter)


def reference_write(m):
    classes = m["classes"]
    string_labels = not isinstance(classes, np.ndarray)
    names = m.get("feature_names")
    coef = np.asarray(m["coef"])
    flags = int(m.get("fit_intercept", True)) | (2 if names else 0)
    payload = FIXED.pack(
        STRATEGY_CODES[m["strategy"]], DTYPE_CODES[coef.dtype], 2 if string_labels else 1, flags,
        len(classes), coef.shape[1], m.get("C", 1.0), m.get("l1_ratio", 0.0), m.get("tol", 1e-4),
        m.get("max_iter", 100),
    )

    def pack(text):
        raw = text.encode("utf-8")
        return struct.pack("<I", len(raw)) + raw

    if string_labels:
        payload += b"".join(pack(c) for c in classes)
    else:
        payload += np.asarray(classes, "<i8").tobytes()
    if names:
        payload += b"".join(pack(n) for n in names)
    little = coef.dtype.newbyteorder("<")
    payload += coef.astype(little).tobytes() + np.asarray(m["intercept"], little).tobytes()
    return reframe(payload)


def reframe(payload, version=1, size=None):
    """A header with a correct checksum around `payload`."""
    size = len(payload) if size is None else size
    return HEADER.pack(MAGIC, version, zlib.crc32(payload), size) + payload


# The bytes tests/cpp/test_model_file.cpp expects the C++ writer to produce.
GOLDEN_OVR = bytes.fromhex(
    "894d4c4f4749540a01000000d5ea94579f00000000000000"
    "02020203030000000200000000000000"
    "000000000000e03f000000000000d03f2d431cebe2361a3f64000000"
    "0300000063617403000000646f6705000000c3a96d6575"
    "0600000068656967687406000000776569676874"
    "000000000000f03f00000000000000c0000000000000e03f000000000000d03f"
    "000000000000f8bf0000000000000840"
    "000000000000c03f000000000000f0bf0000000000000040"
)
GOLDEN_OVR_MODEL = dict(
    strategy="ovr", classes=["cat", "dog", "\u00e9meu"], feature_names=["height", "weight"],
    coef=np.array([[1, -2], [0.5, 0.25], [-1.5, 3]]), intercept=np.array([0.125, -1, 2]),
    C=0.5, l1_ratio=0.25, fit_intercept=True, tol=1e-4, max_iter=100,
)
GOLDEN_BINARY = bytes.fromhex(
    "894d4c4f4749540a010000004601ffa34c00000000000000"
    "03010100020000000300000000000000"
    "000000000000f07f00000000000000002d431cebe2361a3f0a000000"
    "ffffffffffffffff0700000000000000"
    "0000803f000000c00000c0bf0000003f"
)
GOLDEN_BINARY_MODEL = dict(
    strategy="ovo", classes=np.array([-1, 7]), feature_names=None,
    coef=np.array([[1, -2, -1.5]], np.float32), intercept=np.array([0.5], np.float32),
    C=math.inf, l1_ratio=0.0, fit_intercept=False, tol=1e-4, max_iter=10,
)

# --------------------------------------------------------------------------------------------


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def round_trip(estimator):
    buffer = io.BytesIO()
    estimator.save(buffer)
    return multilogit.load(io.BytesIO(buffer.getvalue())), buffer.getvalue()


def assert_same_predictions(saved, loaded, X):
    assert same_bits(saved.decision_function(X), loaded.decision_function(X))
    assert same_bits(saved.predict_proba(X), loaded.predict_proba(X))
    assert np.array_equal(saved.predict(X), loaded.predict(X))


LABELS = {
    "int": lambda k: np.arange(k) * 7 - 3,
    "big-int": lambda k: np.array([-(2**62), -1, 2**40, 2**63 - 1])[:k] if k <= 4 else None,
    "uint8": lambda k: np.arange(k, dtype=np.uint8) + 200,
    "str": lambda k: np.array(["apple", "Banana", "\u00e9t\u00e9", "\U0001f600 smile"][:k]),
    "object-str": lambda k: np.array(["", "b", "\x00c", "z\u00ff"][:k], dtype=object),
}


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=240, n_features=6, n_informative=5, n_redundant=0,
                               n_classes=4, random_state=0)
    return X, y


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("labels", sorted(LABELS))
@pytest.mark.parametrize("n_classes", [2, 4])
def test_round_trip_is_bitwise_identical(data, strategy, dtype, labels, n_classes):
    X, y = data
    keep = y < n_classes
    X, y = X[keep].astype(dtype), y[keep]
    names = LABELS[labels](n_classes)
    est = LogisticRegression(strategy, C=0.3, tol=1e-6, max_iter=300).fit(X, names[y])
    loaded, raw = round_trip(est)

    assert type(loaded) is LogisticRegression
    assert loaded.coef_.dtype == np.dtype(dtype)
    assert same_bits(loaded.coef_, est.coef_) and same_bits(loaded.intercept_, est.intercept_)
    assert list(loaded.classes_) == list(est.classes_)
    assert loaded.n_features_in_ == X.shape[1]
    assert not hasattr(loaded, "feature_names_in_")
    for X_test in (X, X.astype(np.float64 if dtype == np.float32 else np.float32)):
        assert_same_predictions(est, loaded, X_test)
    # Saving the loaded model gives the same bytes, which the independent reader understands.
    _, raw_again = round_trip(loaded)
    assert raw_again == raw
    parsed = reference_read(raw)
    assert parsed["strategy"] == strategy
    assert same_bits(parsed["coef"], est.coef_) and same_bits(parsed["intercept"], est.intercept_)
    assert list(parsed["classes"]) == list(est.classes_)


def test_label_dtypes_after_loading(data):
    X, y = data
    ints, _ = round_trip(LogisticRegression().fit(X, y))
    assert ints.classes_.dtype == np.int64
    strings, _ = round_trip(LogisticRegression().fit(X, np.array(["a", "bb", "c", "d"])[y]))
    assert strings.classes_.dtype.kind == "U"
    # A trailing NUL, which NumPy str arrays would drop, keeps its label in an object array.
    nul, _ = round_trip(LogisticRegression().fit(X, np.array(["a", "a\x00", "b", "c"], object)[y]))
    assert nul.classes_.dtype == object and nul.classes_[1] == "a\x00"


def test_options_and_parameters(data):
    X, y = data
    est = LogisticRegression("ovr", C=0.25, l1_ratio=0.5, fit_intercept=False, tol=1e-5,
                             max_iter=321, n_threads=2).fit(X, y)
    est.set_params(C=99.0, strategy="ovo")  # after the fit: the file records the fit's options
    loaded, raw = round_trip(est)
    params = loaded.get_params()
    assert params["strategy"] == "ovr"
    assert (params["C"], params["l1_ratio"], params["fit_intercept"], params["tol"],
            params["max_iter"]) == (0.25, 0.5, False, 1e-5, 321)
    assert params["n_threads"] is None
    parsed = reference_read(raw)
    assert (parsed["C"], parsed["l1_ratio"], parsed["fit_intercept"]) == (0.25, 0.5, False)
    assert_same_predictions(est.set_params(strategy="ovr"), loaded, X)


def test_loaded_estimator_is_an_ordinary_estimator(data):
    X, y = data
    est = LogisticRegression("ovo", max_iter=300).fit(X, y)
    loaded, _ = round_trip(est)
    assert loaded.score(X, y) == est.score(X, y)
    assert_same_predictions(est, pickle.loads(pickle.dumps(loaded)), X)
    X_sparse = sp.csr_matrix(np.where(np.abs(X) > 1, X, 0.0))
    assert_same_predictions(est, loaded, X_sparse)
    refit = clone(loaded).fit(X, y)
    assert_same_predictions(est, refit, X)


def test_feature_names_are_kept(data):
    pd = pytest.importorskip("pandas")
    X, y = data
    frame = pd.DataFrame(X, columns=["a", "b", "\u00e7", "d", "e", "f"])
    est = LogisticRegression().fit(frame, y)
    loaded, raw = round_trip(est)
    assert list(loaded.feature_names_in_) == ["a", "b", "\u00e7", "d", "e", "f"]
    assert reference_read(raw)["feature_names"] == ["a", "b", "\u00e7", "d", "e", "f"]
    assert_same_predictions(est, loaded, frame)
    with pytest.raises(ValueError, match="feature names"):
        loaded.predict(frame.rename(columns={"a": "z"}))


def test_paths_and_file_objects(data, tmp_path):
    X, y = data
    est = LogisticRegression().fit(X, y)
    for target in (tmp_path / "m.mlogit", str(tmp_path / "s.mlogit")):
        est.save(target)
        assert_same_predictions(est, multilogit.load(target), X)
    with open(tmp_path / "f.mlogit", "wb") as handle:
        est.save(handle)
    with open(tmp_path / "f.mlogit", "rb") as handle:
        assert_same_predictions(est, multilogit.load(handle), X)
    with pytest.raises(FileNotFoundError):
        multilogit.load(tmp_path / "missing.mlogit")
    with open(tmp_path / "f.mlogit", encoding="latin-1") as text:
        with pytest.raises(TypeError, match="binary"):
            multilogit.load(text)
    with pytest.raises(TypeError, match="BytesIO"):
        multilogit.load((tmp_path / "f.mlogit").read_bytes())
    with pytest.raises(NotFittedError):
        LogisticRegression().save(tmp_path / "unfitted.mlogit")


# --------------------------------------------------------------------------------------------
# The format itself, across implementations.


@pytest.mark.parametrize(
    "golden, model", [(GOLDEN_OVR, GOLDEN_OVR_MODEL), (GOLDEN_BINARY, GOLDEN_BINARY_MODEL)]
)
def test_golden_files(golden, model):
    # The independent writer produces the golden bytes, which the C++ writer also produces ...
    assert reference_write(model) == golden
    # ... and multilogit reads them into the model they describe, and writes them back.
    loaded = multilogit.load(io.BytesIO(golden))
    assert loaded._fitted_strategy == model["strategy"]
    assert list(loaded.classes_) == list(model["classes"])
    assert same_bits(loaded.coef_, model["coef"].astype(model["coef"].dtype))
    assert same_bits(loaded.intercept_, model["intercept"])
    assert loaded.C == model["C"] and loaded.l1_ratio == model["l1_ratio"]
    assert loaded.fit_intercept == model["fit_intercept"] and loaded.max_iter == model["max_iter"]
    names = getattr(loaded, "feature_names_in_", None)
    assert (None if names is None else list(names)) == model["feature_names"]
    buffer = io.BytesIO()
    loaded.save(buffer)
    assert buffer.getvalue() == golden


def test_files_from_an_independent_writer(data):
    X, y = data
    rng = np.random.default_rng(3)
    for strategy in STRATEGIES:
        coef = rng.normal(size=(n_units(strategy, 4), X.shape[1]))
        model = dict(strategy=strategy, classes=np.array([-5, 0, 3, 10**15]), coef=coef,
                     intercept=rng.normal(size=coef.shape[0]))
        raw = reference_write(model)
        loaded = multilogit.load(io.BytesIO(raw))
        assert round_trip(loaded)[1] == raw
        scores = X @ coef.T + model["intercept"]
        if strategy == "softmax":  # exact up to rounding; a check that the layout is understood
            np.testing.assert_allclose(loaded.decision_function(X), scores, rtol=1e-12)
            assert np.array_equal(loaded.predict(X), model["classes"][scores.argmax(axis=1)])


# --------------------------------------------------------------------------------------------
# Files that are not valid model files.


def load_bytes(raw):
    return multilogit.load(io.BytesIO(raw))


def test_every_truncation_raises_value_error():
    for golden in (GOLDEN_OVR, GOLDEN_BINARY):
        for size in range(len(golden)):
            with pytest.raises(ValueError, match="truncated"):
                load_bytes(golden[:size])
        with pytest.raises(ValueError, match="unexpected bytes after the end"):
            load_bytes(golden + b"\0")


def test_every_flipped_bit_raises_value_error():
    for position in range(len(GOLDEN_OVR)):
        for bit in range(8):
            corrupted = bytearray(GOLDEN_OVR)
            corrupted[position] ^= 1 << bit
            with pytest.raises(ValueError, match="invalid model file"):
                load_bytes(bytes(corrupted))
    corrupted = bytearray(GOLDEN_OVR)
    corrupted[100] ^= 0xFF
    with pytest.raises(ValueError, match="checksum mismatch"):
        load_bytes(bytes(corrupted))


def test_other_files_and_versions(tmp_path):
    with pytest.raises(ValueError, match="wrong magic bytes"):
        load_bytes(b"PK\x03\x04" + bytes(40))
    with pytest.raises(ValueError, match="wrong magic bytes"):
        load_bytes(pickle.dumps(LogisticRegression()))
    with pytest.raises(ValueError, match="truncated"):
        load_bytes(b"")
    newer = bytearray(GOLDEN_BINARY)
    newer[8] = 2
    with pytest.raises(ValueError, match="format version 2 is not supported.*newer"):
        load_bytes(bytes(newer))
    path = tmp_path / "broken.mlogit"
    path.write_bytes(GOLDEN_BINARY[:-1])
    with pytest.raises(ValueError, match=r"broken\.mlogit.*truncated"):
        multilogit.load(path)


def fixed(strategy=1, scalar=2, labels=1, flags=1, K=3, d=2, C=1.0, l1_ratio=0.0, tol=1e-4,
          max_iter=100):
    return FIXED.pack(strategy, scalar, labels, flags, K, d, C, l1_ratio, tol, max_iter)


VALID_REST = np.arange(3, dtype="<i8").tobytes() + np.zeros(9).tobytes()


@pytest.mark.parametrize(
    "payload, message",
    [
        (fixed(K=2**32 - 1), "n_classes is 4294967295"),
        (fixed(K=3, d=2**64 - 1), "n_features is 18446744073709551615"),
        (fixed(K=32768, d=2**31 - 1), r"remain for class labels \(32768 x 8 bytes\)"),
        (fixed(d=2**31 - 1) + np.arange(3, dtype="<i8").tobytes(), "remain for coefficients"),
        (fixed(labels=2) + struct.pack("<III", 2**32 - 1, 0, 0), "class label 0 has 4294967295 bytes"),
        (fixed(flags=3, d=2**31 - 1) + np.arange(3, dtype="<i8").tobytes(), "remain for feature names"),
        (fixed(strategy=9) + VALID_REST, "unknown strategy code"),
        (fixed(scalar=3) + VALID_REST, "unknown scalar type code 3"),
        (fixed(flags=0x81) + VALID_REST, "unknown flag bits"),
        (fixed(C=-1.0) + VALID_REST, "C must be positive"),
        (fixed(l1_ratio=math.nan) + VALID_REST, r"l1_ratio must be in \[0, 1\]"),
        (fixed(tol=math.inf) + VALID_REST, "tol must be finite"),
        (fixed(max_iter=0) + VALID_REST, "max_iter"),
        (fixed() + np.array([2, 1, 0], "<i8").tobytes() + np.zeros(9).tobytes(), "strictly increasing"),
        (
            fixed(labels=2) + b"\1\0\0\0a\1\0\0\0b\2\0\0\0\xc3\x28" + np.zeros(9).tobytes(),
            "class label 2 is not valid UTF-8",
        ),
        (fixed() + VALID_REST[:-8] + struct.pack("<d", math.nan), "NaN or infinity"),
        (fixed() + VALID_REST + b"\0", "unexpected bytes after the intercepts"),
    ],
)
def test_hostile_payloads_with_valid_checksums(payload, message):
    with pytest.raises(ValueError, match=message):
        load_bytes(reframe(payload))


def test_announced_size_is_not_trusted():
    payload = fixed() + VALID_REST
    load_bytes(reframe(payload))  # the baseline is valid
    for size in (2**64 - 1, 2**40, len(payload) + 1):
        with pytest.raises(ValueError, match="announces a payload of"):
            load_bytes(reframe(payload, size=size))


# --------------------------------------------------------------------------------------------
# Models that cannot be saved.


@pytest.mark.parametrize(
    "labels",
    [np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.0, 1.0, 2.0, 3.0], dtype=np.float32)],
    ids=["float64", "float32"],
)
def test_unsupported_label_types_raise_value_error(data, labels, tmp_path):
    X, y = data
    est = LogisticRegression().fit(X, labels[y])  # scikit-learn accepts integral floats
    with pytest.raises(ValueError, match="model files store integer or string labels"):
        est.save(tmp_path / "m.mlogit")
    assert not (tmp_path / "m.mlogit").exists()


def test_labels_that_do_not_fit_the_format(data, tmp_path):
    X, y = data
    huge = LogisticRegression().fit(X, np.array([0, 1, 2, 2**64 - 1], dtype=np.uint64)[y])
    with pytest.raises(ValueError, match="int64"):
        huge.save(tmp_path / "m.mlogit")
    surrogate = LogisticRegression().fit(X, np.array(["a", "b", "c", "\ud800"], dtype=object)[y])
    with pytest.raises(ValueError, match="UTF-8"):
        surrogate.save(tmp_path / "m.mlogit")
    boolean = LogisticRegression().fit(X[y < 2], y[y < 2] == 1)
    with pytest.raises(ValueError, match="dtype bool"):
        boolean.save(tmp_path / "m.mlogit")
    too_long = LogisticRegression().fit(X, np.array(["a", "b", "c", "d" * 70000], dtype=object)[y])
    with pytest.raises(ValueError, match="more than the limit"):
        too_long.save(tmp_path / "m.mlogit")
