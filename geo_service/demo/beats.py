"""Demo patrol beats: a grid of area beats clipped to each district, three road beats along main roads,
and a few deliberate gaps and overlaps for the coverage checks to find."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from geo_service.demo.city import City, centre_border_line, district_of, split_at_centre_border

__all__ = ["DEMO_GAPS", "DEMO_OVERLAPS", "BeatDefect", "beats"]

_CN = "一二三四五六"
_PREFIX = {"中站区": "ZZ", "解放区": "JF", "山阳区": "SY", "马村区": "MC"}


@dataclass(frozen=True)
class BeatDefect:
    """A gap or overlap the demo leaves on purpose (described; no check hard-codes it)."""

    beats: tuple[str, ...]
    area_m2: float  # approximate
    zh: str
    en: str


#: Ground no area beat covers.
DEMO_GAPS = (
    BeatDefect(
        ("SY-09",),
        90_000.0,
        "山阳区 SY-09 网格中间挖去 300 米见方的一个院落（无人巡查）",
        "山阳区 beat SY-09 has a 300 m × 300 m courtyard cut out of its middle (nobody patrols it)",
    ),
    BeatDefect(
        ("JF-12",),
        150_000.0,
        "解放区 JF-12 网格东侧距区界约 80 米处止步，留下一条狭长空白",
        "解放区 beat JF-12 stops about 80 m short of the district's eastern border, leaving a sliver",
    ),
)
#: Ground two area beats both claim.
DEMO_OVERLAPS = (
    BeatDefect(
        ("ZZ-01", "ZZ-02"),
        500.0,
        "中站区 ZZ-02 向南伸入 ZZ-01 约 25×20 米（500 平方米）",
        "中站区 beat ZZ-02 reaches about 25 m × 20 m (500 m²) south into ZZ-01",
    ),
    BeatDefect(
        ("MC-04", "MC-05"),
        300.0,
        "马村区 MC-05 向南伸入 MC-04 约 20×15 米（300 平方米）",
        "马村区 beat MC-05 reaches about 20 m × 15 m (300 m²) south into MC-04",
    ),
)

#: (district, part: None = whole / "west" / "east" of the 解放区|山阳区 border, columns, rows)
_LAYOUT = (
    ("中站区", None, 3, 4),
    ("解放区", None, 3, 4),
    ("山阳区", "west", 3, 2),
    ("山阳区", "east", 3, 4),
    ("马村区", None, 3, 3),
)
#: road beats: (street, district, how many segments from the district's west end)
_ROAD_BEATS = (("焦作大道", "马村区", 6), ("解放中路", "解放区", 10), ("人民路", "山阳区", 10))


def _cells(region: shapely.Geometry, cols: int, rows: int) -> list[shapely.Polygon]:
    """``region`` cut by a cols × rows grid over its bounds, column by column, each cell one polygon
    (stray bits of a cell go to the neighbour they share most border with)."""
    x0, y0, x1, y1 = region.bounds
    xe, ye = np.linspace(x0, x1, cols + 1), np.linspace(y0, y1, rows + 1)
    boxes = [shapely.box(xe[c], ye[r], xe[c + 1], ye[r + 1]) for c in range(cols) for r in range(rows)]
    pieces = [shapely.intersection(b, region) for b in boxes]
    main: list[shapely.Geometry] = []
    strays: list[shapely.Geometry] = []
    for piece in pieces:
        parts = sorted((p for p in shapely.get_parts(piece) if p.area > 1.0), key=lambda p: -p.area)
        main.append(parts[0] if parts else shapely.Polygon())
        strays += parts[1:]
    for stray in strays:
        k = int(np.argmax([shapely.length(shapely.intersection(stray.boundary, m.boundary)) for m in main]))
        main[k] = shapely.union(main[k], stray)
    return [shapely.make_valid(m) if not m.is_valid else m for m in main if not m.is_empty]


def beats(city: City, districts: pd.DataFrame) -> pd.DataFrame:
    """Area beats (about 50, each inside one district) and three road beats, with squads and brigades."""
    outline = dict(zip(districts["name"], districts["geometry"], strict=True))
    rows: list[dict[str, object]] = []
    for name, part, cols, nrows in _LAYOUT:
        region = outline[name]
        if part is not None:
            region = split_at_centre_border(region)[0 if part == "west" else 1]
        rows += [{"district": name, "geometry": cell} for cell in _cells(region, cols, nrows)]
    # number the beats per district; about four beats to a squad, one brigade per district
    for name in _PREFIX:
        mine = [r for r in rows if r["district"] == name]
        squads = -(-len(mine) // 4)
        for k, r in enumerate(mine, start=1):
            r.update(
                {
                    "code": f"{_PREFIX[name]}-{k:02d}",
                    "name": f"{name}{k}号网格",
                    "squad": f"{name}第{_CN[(k - 1) * squads // len(mine)]}中队",
                    "brigade": f"{name[:2]}大队",
                    "buffer_m": 30.0,
                }
            )
    frame = pd.DataFrame(rows)[["code", "name", "squad", "brigade", "district", "buffer_m", "geometry"]]
    frame = frame.set_index("code", drop=False)
    geom = frame["geometry"].to_dict()
    # the deliberate gaps …
    sy = geom["SY-09"]
    c = shapely.get_coordinates(shapely.point_on_surface(sy))[0]
    geom["SY-09"] = sy.difference(shapely.box(c[0] - 150, c[1] - 150, c[0] + 150, c[1] + 150))
    geom["JF-12"] = geom["JF-12"].difference(shapely.buffer(centre_border_line(), 80.0))
    # … and overlaps: a bulge of the second beat into the first, in the middle of their shared border
    for defect, (w, h) in zip(DEMO_OVERLAPS, ((25.0, 20.0), (20.0, 15.0)), strict=True):
        first, second = defect.beats
        edge = shapely.intersection(geom[first].boundary, geom[second].boundary)
        mid = shapely.get_coordinates(
            shapely.line_interpolate_point(shapely.line_merge(edge), 0.5, normalized=True)
        )[0]
        bulge = shapely.box(mid[0] - w / 2, mid[1] - h, mid[0] + w / 2, mid[1])
        geom[second] = shapely.union(geom[second], bulge)
    frame["geometry"] = pd.Series(geom)
    # road beats along main roads: a point within buffer_m of the street belongs to them
    extra = []
    for k, (street, district, n) in enumerate(_ROAD_BEATS, start=1):
        segs = city.roads[(city.roads["name"] == street) & (city.roads["i0"] == city.roads["i1"])]
        ends = shapely.get_coordinates(shapely.boundary(segs["geometry"].to_numpy())).reshape(-1, 2, 2)
        inside = (district_of(ends[:, 0, 0], ends[:, 0, 1]) == district) & (
            district_of(ends[:, 1, 0], ends[:, 1, 1]) == district
        )
        segs = segs[inside].sort_values("mid_x")
        line = shapely.line_merge(shapely.union_all(segs["geometry"].to_numpy()[:n]))
        extra.append(
            {
                "code": f"LD-{k:02d}",
                "name": f"{street}路段网格",
                "squad": f"{district}路面巡查中队",
                "brigade": f"{district[:2]}大队",
                "district": district,
                "buffer_m": 30.0,
                "geometry": line,
            }
        )
    return pd.concat([frame.reset_index(drop=True), pd.DataFrame(extra)], ignore_index=True)
