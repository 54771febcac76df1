"""The one table of spasm kinds: name, label, colours, order, wire code and the clinical class each stands for.

Everything on the host reads it (the screen, the reports, replay, scoring, the dashboard, which serves it to
the browser as JSON). The wire codes are the firmware's (`spasmfw.codes`): the board knows only codes and short
names; labels, colours and clinical meaning live here. The order of a table is the order kinds are shown in.

Clinical classes are the rater classes of Thomas et al. 2014 (unit, tonic, clonus, myoclonus, mixed). The
detector reports three of them; "unit" (single motor units firing) and "mixed" (tonic with superimposed clonus)
have no kind of their own: a mixed spasm is reported as tonic or clonus, whichever its rhythm measures as.

Adding a kind: a row in KINDS (and the truth kinds it labels correctly in TRUTH), its code in
firmware/codes.py, and the detector's classifier that emits it (docs/architecture.md, "Adding a spasm kind").
Read the table through the functions below, at the time of use, so that a row added here reaches every page.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from spasmfw import codes

CLINICAL_CLASSES = ("unit", "tonic", "clonus", "myoclonus", "mixed")  # Thomas et al. 2014


@dataclass(frozen=True)
class Kind:
    """One row: a detected episode kind, or the sensor-fault pseudo-kind (code None)."""

    name: str  # on the wire, in the store, in CSVs and JSON
    label: str  # what people read (screen, reports, dashboard)
    color: str  # "#rrggbb" for the reports and the dashboard
    style: str  # rich style on the terminal
    code: int | None  # the firmware's wire code (spasmfw.codes); None: not an episode kind
    clinical: str  # the clinical class it corresponds to (CLINICAL_CLASSES), "" for none
    truth: str  # the simulator's truth kind this label stands for when an events CSV is read as truth
    about: str  # one line for the docs and the dashboard's legend tooltip


@dataclass(frozen=True)
class TruthKind:
    """A ground-truth label the simulator writes, and which detected kinds count as labelling it right."""

    name: str
    clinical: str
    correct: tuple[str, ...]  # detected kind names; () for the sensor-fault truth
    spasm: bool = True  # False: a sensor fault, not a spasm


# Colours: far apart in hue and lightness and told apart with the common colour-vision deficiencies (Okabe-Ito
# blue and vermillion, a dark purple); faults grey.
KINDS: tuple[Kind, ...] = (
    Kind("twitch", "twitch", "#56b4e9", "yellow", codes.KIND_TWITCH, "myoclonus", "jerk",
         "a brief jerk: an episode shorter than the detector's twitch_ms"),
    Kind("tonic", "tonic", "#d55e00", "red", codes.KIND_TONIC, "tonic", "tonic",
         "a sustained contraction without a clonus rhythm"),
    Kind("clonus", "clonus", "#5e3c99", "magenta", codes.KIND_CLONUS, "clonus", "clonus",
         "rhythmic bursts (3-8 Hz) measured in the envelope"),
    Kind("fault", "sensor fault", "#555555", "bright_black", None, "", "fault",
         "flat or railed input (lead-off, saturation): not a spasm"),
)
FAULT = "fault"

TRUTH: tuple[TruthKind, ...] = (
    TruthKind("tonic", "tonic", ("tonic", "clonus")),  # a long tonic spasm often carries a clonus rhythm
    TruthKind("clonus", "clonus", ("clonus",)),
    TruthKind("jerk", "myoclonus", ("twitch",)),
    TruthKind("cramp", "tonic", ("tonic", "clonus")),
    TruthKind("fault", "", (), spasm=False),
)

# The rate of all spasms together (a daily rate, not one kind): a colour of no kind, so it is not read as one.
ALL_SPASMS_COLOR = "#44546a"
UNKNOWN_COLOR = "#999999"


def episodes() -> tuple[Kind, ...]:
    """The episode kinds (the rows with a wire code), in display order."""
    return tuple(k for k in KINDS if k.code is not None)


def episode_names() -> tuple[str, ...]:
    return tuple(k.name for k in episodes())


def names() -> tuple[str, ...]:
    """Every row's name, the fault pseudo-kind last as in the table."""
    return tuple(k.name for k in KINDS)


def get(name: str | None) -> Kind | None:
    return next((k for k in KINDS if k.name == name), None)


def label(name: str) -> str:
    k = get(name)
    return k.label if k else name


def color(name: str | None) -> str:
    """The row's colour; an episode still open (no kind yet) as the first kind, the shortest one; a kind the
    table lacks (a store written by newer firmware) grey."""
    k = get(name or open_kind())
    return k.color if k else UNKNOWN_COLOR


def open_kind() -> str:
    """The kind an episode still in progress is drawn as: it has not yet outlasted the first (shortest) one."""
    return episodes()[0].name


def of_class(clinical: str) -> tuple[str, ...]:
    """The episode kinds that correspond to one clinical class, e.g. those the SCATS clonus item grades."""
    return tuple(k.name for k in episodes() if k.clinical == clinical)


def scats_clonus() -> tuple[str, ...]:
    """The episode kinds whose durations are graded in SCATS-style clonus classes."""
    return of_class("clonus")


def truth_names() -> tuple[str, ...]:
    return tuple(t.name for t in TRUTH)


def spasm_truth_names() -> tuple[str, ...]:
    return tuple(t.name for t in TRUTH if t.spasm)


def correct_labels() -> dict[str, tuple[str, ...]]:
    """Truth spasm kind -> the detected kinds that count as labelling it right."""
    return {t.name: t.correct for t in TRUTH if t.spasm}


def truth_aliases() -> dict[str, str]:
    """Detected kind names that differ from the truth kind they stand for (an events CSV read as truth)."""
    return {k.name: k.truth for k in episodes() if k.truth != k.name}


def wire_mismatch() -> str:
    """"" when the episode rows and the firmware's codes agree, else what differs (a test checks this)."""
    ours = {k.code: k.name for k in episodes()}
    return "" if ours == dict(codes.KIND_NAMES) else f"table {ours} != firmware {codes.KIND_NAMES}"


def as_json() -> dict[str, object]:
    """The table for the browser: every row in order, which are episodes, and the colours of no kind."""
    return {"kinds": [{**asdict(k), "episode": k.code is not None} for k in KINDS],
            "episodes": list(episode_names()), "fault": FAULT, "open": open_kind(),
            "scats_clonus": list(scats_clonus()), "all_color": ALL_SPASMS_COLOR,
            "unknown_color": UNKNOWN_COLOR}
