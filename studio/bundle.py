"""The bundle: the contract between training and the studio.

A bundle is a folder with `manifest.json` and its ONNX graphs: an encoder and a predictor always, an actions
graph unless the model acts on the game's own buttons (`action.kind`), and a decoder unless the model draws no
pixels (then a frame bank of real frames stands in for it, labelled as such wherever it is shown).
`load_bundle` checks everything the studio relies on before any graph is run: the format version, that
every graph file lies inside the bundle folder, its sha256, and that each graph's inputs and outputs match
the manifest. Graph signatures are read by opening each graph with onnxruntime (`open_graph`, which the
runtime uses too, so a graph is checked wherever it is opened); torch is never imported.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.video import RESIZE_MODES

FORMAT = "world-model-bundle"
VERSION = 3  # 3: action.kind, an optional actions graph and decoder; 2: the actions graph reads latent frames
VERSION_3_ACTION_KEYS = ("kind", "names", "encoding")  # action fields version 3 added (with `frame_bank`)
READABLE_VERSIONS = (2, 3)  # a version-2 manifest is a version-3 one of kind latent_codes with every graph
MANIFEST_NAME = "manifest.json"
GRAPH_ROLES = ("encoder", "actions", "predictor", "decoder")  # in this order wherever a bundle lists them
# How the predictor is told what happened between two frames:
#   latent_codes: an actions graph reads a code off each transition (Genie's latent actions, a codebook of K);
#   buttons: the game's own buttons, named in the manifest, as one-hot vectors or indices (DIAMOND, IRIS,
#     DreamerV3); no actions graph;
#   continuous: an actions graph gives a vector and no code (LAOM, AdaWorld); the manifest's codebook then holds
#     cluster centres of the example transitions' vectors, fitted for display only.
ACTION_KINDS = ("latent_codes", "buttons", "continuous")
BUTTON_ENCODINGS = ("one_hot", "index")
FRAME_BANK_NAME = "frame_bank.npz"  # real frames [M, H, W, 3] uint8 and their latents [M, N, D]
# the recipes a bundle's latents can come from: an autoencoder on pixels (Genie-like), or latent prediction
# against a moving-average target encoder with the decoder trained afterwards (V-JEPA-like)
MODEL_FAMILIES = ("reconstruction", "jepa")
VIDEOS_SOURCE = "videos"  # `trained_on.source` of a bundle learnt from a folder of clips (`studio train --videos`)
# Fields version-2 manifests were once written with and nothing read; reading a manifest skips them.
RETIRED_FIELDS = {"frame": ("range", "layout", "color"), "action": ("convention",)}

# What each graph must consume and produce; shapes are symbolic and checked against the manifest's sizes.
#   Frames are float32 RGB in [0, 1], channels first; action[t] moves frame t to frame t+1.
#   B: batch, H/W: frame size, N: latent tokens, D: latent dim, C: predictor context, Da: action dim, K: codes,
#   L: latent frames the action model reads (t-L+2 .. t+1: the transition t -> t+1 and L-2 frames before it)
GRAPH_SIGNATURES: dict[str, tuple[dict[str, tuple], dict[str, tuple]]] = {
    "encoder": ({"frames": ("B", 3, "H", "W")}, {"latents": ("B", "N", "D")}),
    "actions": (
        {"latents": ("B", "L", "N", "D")},
        {"action": ("B", "Da"), "code": ("B",), "distances": ("B", "K")},
    ),
    "predictor": ({"context": ("B", "C", "N", "D"), "action": ("B", "Da")}, {"latents_next": ("B", "N", "D")}),
    "decoder": ({"latents": ("B", "N", "D")}, {"frames": ("B", 3, "H", "W")}),
}
# a continuous actions graph gives the vector alone
CONTINUOUS_ACTIONS = ({"latents": ("B", "L", "N", "D")}, {"action": ("B", "Da")})
INT64_OUTPUTS = {("actions", "code")}  # every other tensor is float32
ONNXRUNTIME_DTYPES = {"tensor(float)": "float32", "tensor(int64)": "int64"}  # onnxruntime's names -> the manifest's


class BundleError(Exception):
    """A bundle that cannot be used; the message names the file and what is wrong with it."""


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: list[int | str | None]  # ints are fixed sizes, the rest dynamic axes (e.g. "B"; None in a graph)
    dtype: str = "float32"


@dataclass(frozen=True)
class GraphSpec:
    file: str
    sha256: str
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]


@dataclass(frozen=True)
class FrameSpec:
    height: int
    width: int
    channels: int = 3
    resize: str = "stretch"  # how a clip of another aspect is fitted: stretch, crop (centre) or letterbox


@dataclass(frozen=True)
class LatentSpec:
    tokens: int
    dim: int
    grid: list[int]
    # 0: continuous; else every channel is one of this many evenly spaced values in [-1, 1] (finite scalar
    # quantisation): the encoder and the predictor both give only those values
    levels: int = 0


@dataclass(frozen=True)
class ActionSpec:
    codebook_size: int  # K: codes, buttons, or display clusters
    dim: int  # Da: the predictor's action input
    codebook: list[list[float]]  # [K][Da]: the vector the predictor takes for each code / button / cluster
    window: int = 2  # L: latent frames t-L+2 .. t+1 the actions graph reads for the action t -> t+1
    kind: str = "latent_codes"  # one of ACTION_KINDS
    names: list[str] = field(default_factory=list)  # buttons: the game's name of each (K); else empty
    encoding: str = "one_hot"  # buttons: how the predictor takes one, one of BUTTON_ENCODINGS


@dataclass(frozen=True)
class PredictorSpec:
    context: int
    # rollouts pass every predicted latent frame through the decoder and the encoder before it joins the
    # context, pulling it back onto frames the encoder knows (what a bundle needs to stay stable)
    reanchor: bool = False


@dataclass(frozen=True)
class NativeSpec:
    """The game's frames as they came from their source, before resizing to the model's frame size."""

    height: int
    width: int
    fps: float  # frames per second of the source (Atari: 60)
    frame_skip: int = 1  # source frames per transition the model learnt

    @property
    def transitions_per_second(self) -> float:
        return self.fps / self.frame_skip


@dataclass(frozen=True)
class ReferenceSpec:
    """What the studio judges a clip against (written by `studio reference BUNDLE`): the native frame size and
    rate, and a file holding a reference image of the training frames at native size (`image` [H0, W0, 3]
    uint8, their median) and reference latents (`latents` [M, N, D]) with the familiarity calibration
    measured against them on held-out frames."""

    file: str
    sha256: str
    native: NativeSpec
    familiarity: dict[str, Any]  # studio.familiarity.Calibration's fields
    measured_on: dict[str, Any] = field(default_factory=dict)
    # the lowest whole-frame match of fresh clips of the game to the reference image (studio.screen); None in
    # references written before it was measured, whose clips are searched for the screen
    screen_match: float | None = None


@dataclass(frozen=True)
class FileSpec:
    file: str
    sha256: str


@dataclass(frozen=True)
class Manifest:
    name: str
    description: str
    license: str
    trained_on: dict[str, Any]
    frame: FrameSpec
    latent: LatentSpec
    action: ActionSpec
    predictor: PredictorSpec
    graphs: dict[str, GraphSpec] = field(default_factory=dict)  # by role; `with_graphs` fills it
    metrics: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    reference: ReferenceSpec | None = None  # optional: a bundle without it is read whole, unjudged
    family: str = "reconstruction"  # one of MODEL_FAMILIES; bundles written before it was recorded: reconstruction
    frame_bank: FileSpec | None = None  # a bundle with no decoder: real frames that stand in for decoded ones
    format: str = FORMAT
    version: int = VERSION

    def sizes(self) -> dict[str, int]:
        """The symbolic sizes of GRAPH_SIGNATURES for this bundle."""
        return {
            "H": self.frame.height,
            "W": self.frame.width,
            "N": self.latent.tokens,
            "D": self.latent.dim,
            "C": self.predictor.context,
            "Da": self.action.dim,
            "K": self.action.codebook_size,
            "L": self.action.window,
        }

    @property
    def roles(self) -> tuple[str, ...]:
        """The graphs this bundle has, in GRAPH_ROLES' order."""
        return tuple(role for role in GRAPH_ROLES if role in self.graphs)

    @property
    def required_roles(self) -> tuple[str, ...]:
        """The graphs its action kind needs: the decoder is never required, the actions graph but for buttons."""
        return ("encoder", "predictor") if self.action.kind == "buttons" else ("encoder", "actions", "predictor")

    def with_graphs(self, paths: dict[str, Path]) -> Manifest:
        """This manifest describing the graph files at `paths` (by role): each file's name and sha256, and
        the tensors the contract asks of it at this manifest's sizes."""
        sizes = self.sizes()
        graphs = {
            role: GraphSpec(Path(path).name, sha256_file(path), *contract_tensors(role, sizes, self.action.kind))
            for role, path in paths.items()
        }
        return dataclasses.replace(self, graphs=graphs)

    def to_json(self) -> dict[str, Any]:
        """As `manifest.json` holds it: a version-2 manifest keeps version 2's keys (its action is latent codes
        and it has every graph), so a studio that reads only version 2 still reads it once rewritten."""
        raw = dataclasses.asdict(self)
        if self.version == 2:
            for key in VERSION_3_ACTION_KEYS:
                del raw["action"][key]
            del raw["frame_bank"]
        return raw


@dataclass(frozen=True)
class Bundle:
    """A validated bundle: its folder, manifest and the resolved path of each graph."""

    root: Path
    manifest: Manifest
    graph_paths: dict[str, Path]

    @property
    def name(self) -> str:
        return self.manifest.name


def sha256_file(path: str | Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def contract_tensors(
    role: str, sizes: dict[str, int], kind: str = "latent_codes"
) -> tuple[list[TensorSpec], list[TensorSpec]]:
    """The inputs and outputs the contract asks of the `role` graph at a bundle's `sizes` (`Manifest.sizes`) for
    an action `kind`."""

    def specs(signature: dict[str, tuple]) -> list[TensorSpec]:
        return [
            TensorSpec(name, _concrete(shape, sizes), "int64" if (role, name) in INT64_OUTPUTS else "float32")
            for name, shape in signature.items()
        ]

    inputs, outputs = CONTINUOUS_ACTIONS if (role, kind) == ("actions", "continuous") else GRAPH_SIGNATURES[role]
    return specs(inputs), specs(outputs)


def write_manifest(manifest: Manifest, bundle_dir: str | Path) -> Path:
    """Write `manifest.json` into `bundle_dir` after checking it describes a valid contract."""
    _check_manifest(manifest)
    path = Path(bundle_dir) / MANIFEST_NAME
    path.write_text(json.dumps(manifest.to_json(), indent=2, ensure_ascii=False) + "\n")
    return path


def read_manifest(bundle_dir: str | Path) -> Manifest:
    """Parse `manifest.json` without touching the graphs."""
    path = Path(bundle_dir) / MANIFEST_NAME
    if not path.is_file():
        raise BundleError(f"{MANIFEST_NAME}: missing in bundle '{Path(bundle_dir).name}'")
    try:
        raw = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BundleError(f"{MANIFEST_NAME}: not valid JSON ({err})") from None
    manifest = _manifest_from_json(raw)
    _check_manifest(manifest)
    return manifest


def load_bundle(bundle_dir: str | Path, *, check_graphs: bool = True) -> Bundle:
    """Read and validate a bundle folder; raise BundleError naming the file and the fault."""
    root = Path(bundle_dir)
    if not root.is_dir():
        raise BundleError(f"bundle '{root.name}': not a folder")
    root = root.resolve()
    manifest = read_manifest(root)
    graph_paths = {role: _graph_path(root, role, manifest.graphs[role]) for role in manifest.roles}
    if manifest.frame_bank is not None:
        bank = _inside(root, manifest.frame_bank.file, "frame bank")
        if sha256_file(bank) != manifest.frame_bank.sha256:
            raise BundleError(f"{manifest.frame_bank.file}: sha256 mismatch for the frame bank: the file was changed")
    for role, path in graph_paths.items():
        actual = sha256_file(path)
        if actual != manifest.graphs[role].sha256:
            raise BundleError(
                f"{manifest.graphs[role].file}: sha256 mismatch for the {role} graph "
                f"(manifest {manifest.graphs[role].sha256[:12]}…, file {actual[:12]}…): the file was changed"
            )
    bundle = Bundle(root=root, manifest=manifest, graph_paths=graph_paths)
    if check_graphs:
        for role in manifest.roles:
            open_graph(bundle, role)
    return bundle


def find_bundles(exported_dir: str | Path) -> list[Path]:
    """Folders directly inside `exported_dir` that hold a manifest, sorted by name."""
    root = Path(exported_dir)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / MANIFEST_NAME).is_file())


def _manifest_from_json(raw: Any) -> Manifest:
    if not isinstance(raw, dict):
        raise BundleError(f"{MANIFEST_NAME}: expected a JSON object")
    if raw.get("format") != FORMAT:
        raise BundleError(f"{MANIFEST_NAME}: format is {raw.get('format')!r}, expected {FORMAT!r}")
    if raw.get("version") not in READABLE_VERSIONS:
        raise BundleError(
            f"{MANIFEST_NAME}: unknown format version {raw.get('version')!r}; this studio reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))} (`studio export CHECKPOINT OUT_DIR` writes a current bundle "
            "from a training checkpoint)"
        )
    try:
        graphs = {
            role: GraphSpec(
                file=spec["file"],
                sha256=spec["sha256"],
                inputs=[TensorSpec(**t) for t in spec["inputs"]],
                outputs=[TensorSpec(**t) for t in spec["outputs"]],
            )
            for role, spec in raw["graphs"].items()
        }
        return Manifest(
            name=raw["name"],
            description=raw.get("description", ""),
            license=raw.get("license", ""),
            trained_on=raw.get("trained_on", {}),
            frame=FrameSpec(**_current_fields(raw, "frame")),
            latent=LatentSpec(**raw["latent"]),
            action=ActionSpec(**_current_fields(raw, "action")),
            predictor=PredictorSpec(**raw["predictor"]),
            graphs=graphs,
            metrics=raw.get("metrics", {}),
            training=raw.get("training", {}),
            reference=_reference_from_json(raw.get("reference")),
            family=raw.get("family", "reconstruction"),
            frame_bank=FileSpec(**raw["frame_bank"]) if raw.get("frame_bank") else None,
            version=raw["version"],
        )
    except KeyError as err:
        raise BundleError(f"{MANIFEST_NAME}: missing key {err}") from None
    except (TypeError, AttributeError) as err:
        raise BundleError(f"{MANIFEST_NAME}: malformed entry ({err})") from None


def _reference_from_json(raw: Any) -> ReferenceSpec | None:
    if raw is None:
        return None
    return ReferenceSpec(**{**raw, "native": NativeSpec(**raw["native"])})


def _current_fields(raw: dict[str, Any], section: str) -> dict[str, Any]:
    """One section of a manifest without the retired fields an older writer put in it."""
    return {key: value for key, value in raw[section].items() if key not in RETIRED_FIELDS.get(section, ())}


def _check_manifest(manifest: Manifest) -> None:
    action = manifest.action
    if action.kind not in ACTION_KINDS:
        raise BundleError(f"{MANIFEST_NAME}: action.kind must be one of {ACTION_KINDS}, got {action.kind!r}")
    unknown = [role for role in manifest.graphs if role not in GRAPH_ROLES]
    if unknown:
        raise BundleError(f"{MANIFEST_NAME}: unknown graph role(s) {unknown}; a bundle's graphs are {GRAPH_ROLES}")
    missing = [role for role in (*manifest.required_roles, *_version_2_roles(manifest)) if role not in manifest.graphs]
    if missing:
        raise BundleError(f"{MANIFEST_NAME}: no entry for the {', '.join(missing)} graph(s)")
    if action.kind == "buttons":
        if "actions" in manifest.graphs:
            raise BundleError(f"{MANIFEST_NAME}: a bundle of action.kind 'buttons' has no actions graph")
        if len(action.names) != action.codebook_size:
            raise BundleError(f"{MANIFEST_NAME}: action.names must name each of the {action.codebook_size} buttons")
        if action.encoding not in BUTTON_ENCODINGS:
            raise BundleError(f"{MANIFEST_NAME}: action.encoding must be one of {BUTTON_ENCODINGS}")
    if manifest.frame.resize not in RESIZE_MODES:
        raise BundleError(f"{MANIFEST_NAME}: frame.resize must be one of {RESIZE_MODES}, got {manifest.frame.resize!r}")
    if manifest.family not in MODEL_FAMILIES:
        raise BundleError(f"{MANIFEST_NAME}: family must be one of {MODEL_FAMILIES}, got {manifest.family!r}")
    if manifest.frame.channels != 3:
        raise BundleError(f"{MANIFEST_NAME}: frame.channels must be 3 (RGB), got {manifest.frame.channels}")
    if math.prod(manifest.latent.grid) != manifest.latent.tokens:
        raise BundleError(
            f"{MANIFEST_NAME}: latent.grid {manifest.latent.grid} does not hold latent.tokens={manifest.latent.tokens}"
        )
    codebook = manifest.action.codebook
    if len(codebook) != manifest.action.codebook_size or any(len(row) != manifest.action.dim for row in codebook):
        raise BundleError(
            f"{MANIFEST_NAME}: action.codebook must be {manifest.action.codebook_size}×{manifest.action.dim}"
        )
    sizes = manifest.sizes()
    if any(not isinstance(v, int) or v < 1 for v in sizes.values()):
        raise BundleError(f"{MANIFEST_NAME}: sizes must be positive integers, got {sizes}")
    if sizes["L"] < 2:
        raise BundleError(f"{MANIFEST_NAME}: action.window must be at least 2 (frames t and t+1), got {sizes['L']}")
    for role in manifest.roles:
        spec = manifest.graphs[role]
        inputs, outputs = contract_tensors(role, sizes, action.kind)
        _check_tensors(role, spec.file, "input", spec.inputs, inputs, in_manifest=True)
        _check_tensors(role, spec.file, "output", spec.outputs, outputs, in_manifest=True)


def _check_tensors(
    role: str, file: str, kind: str, found: list[TensorSpec], wanted: list[TensorSpec], *, in_manifest: bool
) -> None:
    """One rule for both sides of the contract, the tensors the manifest declares and those an opened graph
    has: the contract's names, ranks and dtypes, its size wherever both give a fixed one, a dynamic batch."""
    names, expected = [t.name for t in found], {t.name: t for t in wanted}
    holder = f"the manifest's {role} entry" if in_manifest else f"the {role} graph"
    if sorted(names) != sorted(expected):
        raise BundleError(f"{file}: {holder} has {kind}s {names}, the contract needs {list(expected)}")
    for tensor in found:
        want, got = expected[tensor.name], tensor.shape
        subject = (
            f"the manifest gives {kind} '{tensor.name}' of the {role} graph"
            if in_manifest
            else f"{kind} '{tensor.name}' of the {role} graph has"
        )
        fixed_mismatch = any(isinstance(g, int) and isinstance(w, int) and g != w for g, w in zip(got, want.shape))
        if len(got) != len(want.shape) or fixed_mismatch:
            raise BundleError(f"{file}: {subject} shape {got}, the contract needs {want.shape}")
        if isinstance(got[0], int):
            raise BundleError(f"{file}: {subject} a fixed batch size {got[0]}")
        if tensor.dtype != want.dtype:
            raise BundleError(f"{file}: {subject} dtype {tensor.dtype}, the contract needs {want.dtype}")


def _concrete(symbolic: tuple, sizes: dict[str, int]) -> list[int | str]:
    """("B", 3, "H", "W") -> ["B", 3, 64, 64]: every symbol but the batch axis becomes a size."""
    return [sizes.get(d, d) if isinstance(d, str) else d for d in symbolic]


def _version_2_roles(manifest: Manifest) -> tuple[str, ...]:
    """A version-2 bundle has all four graphs."""
    return GRAPH_ROLES if manifest.version == 2 else ()


def _graph_path(root: Path, role: str, spec: GraphSpec) -> Path:
    return _inside(root, spec.file, f"{role} graph")


def _inside(root: Path, file: str, what: str) -> Path:
    """A bundle file's path, refused unless it is a plain file name inside the bundle folder and exists."""
    relative = Path(file)
    if relative.is_absolute() or ".." in relative.parts:
        raise BundleError(f"{file}: the {what}'s path must be a plain file name inside the bundle folder")
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise BundleError(f"{file}: the {what} points outside the bundle folder")
    if not path.is_file():
        raise BundleError(f"{file}: the {what} file is missing")
    return path


def open_graph(bundle: Bundle, role: str, *, options: Any = None, providers: list[str] | None = None) -> Any:
    """Open one graph as an onnxruntime session and check its inputs/outputs against the contract."""
    import onnxruntime as ort  # deferred: manifest-only checks stay cheap

    root, manifest = bundle.root, bundle.manifest
    spec = manifest.graphs[role]
    if options is None:
        options = ort.SessionOptions()
        options.log_severity_level = 3
    try:
        session = ort.InferenceSession(
            str(root / spec.file), sess_options=options, providers=providers or ["CPUExecutionProvider"]
        )
    except Exception as err:  # onnxruntime raises several unrelated types for unusable graphs
        raise BundleError(f"{spec.file}: onnxruntime cannot open the {role} graph ({first_line(err)})") from None
    inputs, outputs = contract_tensors(role, manifest.sizes(), manifest.action.kind)
    _check_tensors(role, spec.file, "input", _graph_tensors(session.get_inputs()), inputs, in_manifest=False)
    _check_tensors(role, spec.file, "output", _graph_tensors(session.get_outputs()), outputs, in_manifest=False)
    return session


def _graph_tensors(nodes: list) -> list[TensorSpec]:
    """onnxruntime's description of a graph's inputs or outputs, in the manifest's terms."""
    return [TensorSpec(n.name, list(n.shape), ONNXRUNTIME_DTYPES.get(n.type, n.type)) for n in nodes]


def first_line(err: Exception, limit: int = 200) -> str:
    """The first line of an error message, shortened: enough to say what failed, never a traceback."""
    text = str(err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:limit]
