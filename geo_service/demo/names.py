"""Street names of the demo city.

Key streets carry names from the city's own reporting (塔北路, 解放西路, 解放中路, 桃园路, 增光北路, 跃进路,
人民路, 民主路, 丰收路, 山阳路, 建设路, 塔南路, 焦东路, 焦作大道 …); the layout is made up. Branch streets take
a stem per district and line; alleys are named after the street they leave (``…北巷``, ``…东巷``).
"""

from __future__ import annotations

__all__ = ["EW_KEY", "NS_KEY", "OUTER_SECONDARY", "STEMS", "StreetNames"]

#: E-W key streets, south to north (every 4th grid row; even positions are main roads). A dict names the
#: street per district.
EW_KEY: tuple[str | dict[str, str], ...] = (
    "焦作大道",
    "新园路",
    "建设路",
    "丰收路",
    "山阳路",
    "和平路",
    "人民路",
    "友谊路",
    {"中站区": "解放西路", "解放区": "解放中路", "山阳区": "解放东路", "马村区": "解放东路"},
    "北环路",
)
#: N-S key streets, west to east (every 4th grid column; even positions are main roads). A pair is
#: (north of y=0, south of it).
NS_KEY: tuple[str | tuple[str, str], ...] = (
    "中原路",
    "跃进路",
    ("增光北路", "增光南路"),
    "桃园路",
    "站前路",
    "民主路",
    "太行路",
    "工业路",
    ("塔北路", "塔南路"),
    "化工路",
    "焦东路",
    "龙源路",
    "文昌路",
    "世纪路",
    "东环路",
    "待王路",
    "九里山路",
    "冯营路",
    "演马路",
)
#: Secondary key streets cleared after the others in snow (priority 3 rather than 2): the outer ring.
OUTER_SECONDARY = frozenset({"北环路", "新园路", "冯营路"})

STEMS = (
    "民生",
    "幸福",
    "光明",
    "团结",
    "育才",
    "文化",
    "胜利",
    "红旗",
    "东风",
    "建业",
    "振兴",
    "繁荣",
    "富民",
    "安居",
    "康乐",
    "锦绣",
    "春晖",
    "朝阳",
    "映山",
    "瑞丰",
    "嘉禾",
    "翠竹",
    "松林",
    "柏林",
    "桂园",
    "梅园",
    "兰亭",
    "菊香",
    "荷塘",
    "牡丹",
    "丁香",
    "紫荆",
    "永安",
    "长乐",
    "太平",
    "兴隆",
    "书香",
    "鸿福",
    "中兴",
    "福寿",
    "仁和",
    "德胜",
    "景泰",
    "清风",
    "明月",
    "南山",
    "北岭",
    "东岗",
    "西岗",
    "宏达",
    "金桥",
    "银河",
    "星光",
    "阳光",
    "园林",
    "果园",
    "桑园",
    "杏林",
    "枣园",
    "槐荫",
    "柳营",
    "王封",
    "李封",
    "恩村",
    "小尚",
    "焦西",
    "白庄",
    "新庄",
    "寺河",
    "府城",
    "龙翔",
    "苏蔺",
    "宁郭",
    "墙南",
    "丁村",
)


class StreetNames:
    """Hands out names: key streets from the tables above, branch streets a stem each (in request order)."""

    def __init__(self) -> None:
        self._branch: dict[tuple[str, int, str], str] = {}

    def key_ew(self, k: int, district: str) -> str:
        entry = EW_KEY[k % len(EW_KEY)]
        return entry[district] if isinstance(entry, dict) else entry

    def key_ns(self, k: int, y: float) -> str:
        entry = NS_KEY[k % len(NS_KEY)]
        return (entry[0] if y > 0 else entry[1]) if isinstance(entry, tuple) else entry

    def branch(self, orientation: str, index: int, district: str) -> str:
        """A branch street: ``…街`` running E-W, ``…路`` running N-S; one name per line and district."""
        key = (orientation, index, district)
        if key not in self._branch:
            n = len(self._branch)
            stem = STEMS[n % len(STEMS)] + ("" if n < len(STEMS) else str(n // len(STEMS) + 1))
            self._branch[key] = stem + ("街" if orientation == "ew" else "路")
        return self._branch[key]
