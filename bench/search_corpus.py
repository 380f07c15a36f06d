"""Listings and queries for the search benchmark: Vietnamese and English texts built from templates across sectors."""

import random
import unicodedata
from dataclasses import dataclass
from typing import Any

from matching.glossary import GLOSSARY


@dataclass(frozen=True)
class Topic:
    """One technology, named in both languages, with the scales it comes in."""

    sector: str
    group: str
    vi: tuple[str, str, tuple[str, ...], str]  # name, use, keywords, unit
    en: tuple[str, str, tuple[str, ...], str]
    scales: tuple[int, ...]


TOPICS = (
    Topic(
        "207",
        "biotech_biomedicine",
        (
            "hệ thống xử lý nước thải chăn nuôi bằng màng sinh học MBR",
            "trang trại heo",
            ("nước thải", "MBR", "chăn nuôi"),
            "m3/ngày",
        ),
        (
            "MBR membrane bioreactor for livestock wastewater",
            "pig farms",
            ("wastewater", "MBR", "livestock"),
            "m3 per day",
        ),
        (20, 50, 80, 120, 200, 350),
    ),
    Topic(
        "401",
        "energy_materials",
        (
            "máy sấy nông sản bơm nhiệt kết hợp năng lượng mặt trời",
            "cà phê và ca cao",
            ("máy sấy", "bơm nhiệt", "cà phê"),
            "tấn/mẻ",
        ),
        (
            "solar-assisted heat pump dryer for farm produce",
            "coffee and cocoa beans",
            ("dryer", "heat pump", "coffee"),
            "tonnes per batch",
        ),
        (1, 2, 3, 5, 8, 10),
    ),
    Topic(
        "406",
        "biotech_biomedicine",
        (
            "chế phẩm vi sinh phân giải phụ phẩm nông nghiệp",
            "rơm rạ và vỏ cà phê",
            ("vi sinh", "ủ phân", "phụ phẩm"),
            "tấn/tháng",
        ),
        (
            "microbial inoculant for composting crop residues",
            "rice straw and coffee husks",
            ("microbial", "compost", "crop residues"),
            "tonnes per month",
        ),
        (10, 30, 60, 100, 250, 500),
    ),
    Topic(
        "405",
        "marine_subsoil",
        (
            "hệ thống nuôi tôm tuần hoàn RAS",
            "nuôi tôm thẻ chân trắng siêu thâm canh",
            ("nuôi tôm", "RAS", "thủy sản"),
            "tấn/vụ",
        ),
        (
            "recirculating aquaculture system for shrimp",
            "super-intensive whiteleg shrimp farming",
            ("shrimp", "RAS", "aquaculture"),
            "tonnes per crop",
        ),
        (5, 10, 20, 40, 60, 100),
    ),
    Topic(
        "202",
        "digital",
        (
            "cảm biến IoT giám sát chất lượng nước",
            "ao nuôi thủy sản",
            ("IoT", "cảm biến", "chất lượng nước"),
            "điểm đo",
        ),
        (
            "IoT water quality monitoring sensors",
            "aquaculture ponds",
            ("IoT", "sensor", "water quality"),
            "measuring points",
        ),
        (4, 8, 16, 32, 64, 128),
    ),
    Topic(
        "203",
        "robotics_automation",
        ("robot hàn tự động", "nhà máy chế tạo kết cấu thép", ("robot", "hàn", "tự động hóa"), "mối hàn/giờ"),
        (
            "automated welding robot",
            "steel structure fabrication plants",
            ("robot", "welding", "automation"),
            "welds per hour",
        ),
        (60, 120, 240, 400, 600, 900),
    ),
    Topic(
        "211",
        "biotech_biomedicine",
        (
            "công nghệ chiết xuất tinh dầu bằng CO2 siêu tới hạn",
            "tinh dầu quế và hồi",
            ("tinh dầu", "CO2 siêu tới hạn", "chiết xuất"),
            "kg/mẻ",
        ),
        (
            "supercritical CO2 extraction of essential oils",
            "cinnamon and star anise oils",
            ("essential oil", "supercritical CO2", "extraction"),
            "kg per batch",
        ),
        (5, 10, 25, 50, 100, 200),
    ),
    Topic(
        "304",
        "biotech_biomedicine",
        (
            "quy trình sản xuất cao dược liệu chuẩn hóa",
            "cây đinh lăng và sâm Ngọc Linh",
            ("dược liệu", "cao chiết", "tiêu chuẩn hóa"),
            "kg/ngày",
        ),
        (
            "standardised herbal extract production process",
            "Polyscias and Ngoc Linh ginseng",
            ("herbal medicine", "extract", "standardisation"),
            "kg per day",
        ),
        (10, 20, 50, 100, 150, 300),
    ),
    Topic(
        "205",
        "energy_materials",
        (
            "gạch không nung từ tro xỉ nhiệt điện",
            "công trình xây dựng dân dụng",
            ("gạch không nung", "tro xỉ", "vật liệu xây dựng"),
            "triệu viên/năm",
        ),
        (
            "unfired bricks from thermal power plant fly ash",
            "residential construction",
            ("unfired bricks", "fly ash", "building materials"),
            "million bricks per year",
        ),
        (5, 10, 20, 30, 50, 80),
    ),
    Topic(
        "202",
        "energy_materials",
        (
            "hệ thống điện mặt trời áp mái kết hợp lưu trữ pin lithium",
            "nhà xưởng sản xuất",
            ("điện mặt trời", "lưu trữ năng lượng", "pin lithium"),
            "kWp",
        ),
        (
            "rooftop solar power with lithium battery storage",
            "factory rooftops",
            ("solar power", "energy storage", "lithium battery"),
            "kWp",
        ),
        (50, 100, 250, 500, 1000, 2000),
    ),
    Topic(
        "202",
        "digital",
        (
            "phần mềm truy xuất nguồn gốc nông sản bằng mã QR",
            "hợp tác xã rau an toàn",
            ("truy xuất nguồn gốc", "mã QR", "nông sản"),
            "mã/ngày",
        ),
        (
            "QR code traceability software for agricultural products",
            "safe vegetable cooperatives",
            ("traceability", "QR code", "farm products"),
            "codes per day",
        ),
        (1000, 5000, 10000, 20000, 50000, 100000),
    ),
    Topic(
        "204",
        "biotech_biomedicine",
        (
            "công nghệ sản xuất phân bón hữu cơ vi sinh",
            "phân chuồng và bã mía",
            ("phân bón hữu cơ", "vi sinh", "bã mía"),
            "tấn/năm",
        ),
        (
            "bio-organic fertiliser production technology",
            "manure and sugarcane bagasse",
            ("organic fertiliser", "microbial", "bagasse"),
            "tonnes per year",
        ),
        (500, 1000, 3000, 5000, 10000, 20000),
    ),
    Topic(
        "403",
        "biotech_biomedicine",
        (
            "chế phẩm probiotic bổ sung thức ăn cho gà thịt",
            "trang trại gà công nghiệp",
            ("probiotic", "gà thịt", "thức ăn chăn nuôi"),
            "con",
        ),
        (
            "probiotic feed additive for broiler chickens",
            "industrial poultry farms",
            ("probiotic", "broiler", "animal feed"),
            "birds",
        ),
        (5000, 10000, 20000, 50000, 100000, 200000),
    ),
    Topic(
        "404",
        "energy_materials",
        (
            "công nghệ biến tính nhiệt gỗ rừng trồng",
            "gỗ keo và bạch đàn",
            ("biến tính gỗ", "gỗ keo", "chế biến gỗ"),
            "m3/năm",
        ),
        (
            "thermal modification of plantation wood",
            "acacia and eucalyptus timber",
            ("wood modification", "acacia", "wood processing"),
            "m3 per year",
        ),
        (500, 1000, 2000, 5000, 8000, 12000),
    ),
    Topic(
        "206",
        "biotech_biomedicine",
        (
            "thiết bị siêu âm chẩn đoán cầm tay",
            "trạm y tế xã",
            ("siêu âm", "chẩn đoán hình ảnh", "thiết bị y tế"),
            "ca khám/ngày",
        ),
        (
            "handheld ultrasound imaging device",
            "commune health stations",
            ("ultrasound", "medical imaging", "medical device"),
            "scans per day",
        ),
        (20, 40, 60, 80, 120, 200),
    ),
    Topic(
        "202",
        "digital",
        (
            "hệ thống camera AI phát hiện lỗi sản phẩm",
            "dây chuyền đóng gói thực phẩm",
            ("trí tuệ nhân tạo", "thị giác máy tính", "kiểm tra chất lượng"),
            "sản phẩm/phút",
        ),
        (
            "AI camera system for product defect detection",
            "food packaging lines",
            ("artificial intelligence", "computer vision", "quality inspection"),
            "items per minute",
        ),
        (30, 60, 120, 200, 300, 600),
    ),
    Topic(
        "207",
        "energy_materials",
        (
            "lò đốt chất thải rắn sinh hoạt thu hồi năng lượng",
            "đô thị vừa và nhỏ",
            ("chất thải rắn", "lò đốt", "điện rác"),
            "tấn/ngày",
        ),
        (
            "waste-to-energy incinerator for municipal solid waste",
            "small and medium towns",
            ("solid waste", "incinerator", "waste-to-energy"),
            "tonnes per day",
        ),
        (50, 100, 200, 300, 500, 1000),
    ),
    Topic(
        "401",
        "digital",
        (
            "hệ thống tưới nhỏ giọt thông minh",
            "vườn sầu riêng và cà phê",
            ("tưới nhỏ giọt", "nông nghiệp thông minh", "tiết kiệm nước"),
            "ha",
        ),
        (
            "smart drip irrigation system",
            "durian and coffee orchards",
            ("drip irrigation", "smart farming", "water saving"),
            "hectares",
        ),
        (5, 10, 20, 50, 100, 300),
    ),
    Topic(
        "209",
        "biotech_biomedicine",
        (
            "công nghệ sản xuất enzyme từ nấm mốc",
            "chế biến thức ăn chăn nuôi",
            ("enzyme", "lên men", "nấm mốc"),
            "lít/mẻ",
        ),
        (
            "fungal enzyme production technology",
            "animal feed processing",
            ("enzyme", "fermentation", "fungi"),
            "litres per batch",
        ),
        (100, 500, 1000, 2000, 5000, 10000),
    ),
    Topic(
        "201",
        "energy_materials",
        (
            "bê tông chất lượng siêu cao UHPC",
            "dầm cầu nhịp ngắn",
            ("bê tông UHPC", "cầu", "vật liệu xây dựng"),
            "m3/ngày",
        ),
        (
            "ultra-high performance concrete UHPC",
            "short-span bridge girders",
            ("UHPC", "bridge", "building materials"),
            "m3 per day",
        ),
        (10, 20, 40, 60, 100, 150),
    ),
)

REGIONS = (
    "01",
    "79",
    "48",
    "31",
    "92",
    "66",
    "75",
    "56",
    "40",
    "38",
    "24",
    "22",
    "19",
    "68",
    "82",
    "91",
    "96",
    "52",
    "46",
    "37",
)
MODES = (
    ("license", "consulting"),
    ("equipment_sale",),
    ("license",),
    ("rnd_cooperation", "consulting"),
    ("assignment",),
    ("joint_venture", "license"),
)
IP = ("patent_granted", "patent_pending", "utility_solution", "know_how", "none")
OFFER_VARIANTS = 15
DEMAND_VARIANTS = 10
# Share of listings written about one of the hand-written topics above (the benchmark's queries aim at them);
# the others are about glossary technologies picked at random, as an exchange's long tail would be.
TOPIC_SHARE = 0.3
SECTORS = tuple(sorted({t.sector for t in TOPICS}))
GROUPS = tuple(sorted({t.group for t in TOPICS}))
PLACES = (
    "Đồng Nai",
    "Cần Thơ",
    "Đà Nẵng",
    "Hải Phòng",
    "Lâm Đồng",
    "Nghệ An",
    "Thái Nguyên",
    "An Giang",
    "Khánh Hòa",
    "Gia Lai",
    "Quảng Ninh",
    "Huế",
    "Bắc Ninh",
    "Tây Ninh",
    "Vĩnh Long",
    "Cà Mau",
)
PARTNERS = {
    "vi": (
        "hợp tác xã",
        "doanh nghiệp vừa và nhỏ",
        "nhà máy",
        "trang trại",
        "bệnh viện tuyến tỉnh",
        "khu công nghiệp",
        "công ty chế biến",
        "trường đại học",
        "viện nghiên cứu",
        "ban quản lý dự án",
    ),
    "en": (
        "cooperatives",
        "small and medium firms",
        "factories",
        "farms",
        "provincial hospitals",
        "industrial parks",
        "processing companies",
        "universities",
        "research institutes",
        "project boards",
    ),
}
# Sentences a listing's description picks from, so that no two listings read alike; {p} a place, {w} a partner,
# {a}/{b} glossary terms, {n}/{m}/{k} numbers.
SENTENCES = {
    "vi": (
        "Đã triển khai tại {n} {w} ở {p} từ năm {y}.",
        "Giảm {k}% tiêu hao năng lượng và {m}% nhân công so với cách làm hiện nay.",
        "Kết hợp {a} với {b} để vận hành ổn định quanh năm.",
        "Thời gian hoàn vốn khoảng {m} tháng với quy mô {n} đơn vị.",
        "Nhóm tác giả gồm {n} chuyên gia, có {m} bài báo và {k} bằng độc quyền liên quan.",
        "Thiết bị điều khiển qua điện thoại, cảnh báo sự cố và lưu nhật ký {m} ngày.",
        "Vật tư chính mua được trong nước; linh kiện thay thế giao trong {k} ngày.",
        "Đạt tiêu chuẩn quốc gia, đã được {w} ở {p} nghiệm thu.",
        "Phù hợp với {w} có mặt bằng từ {n} m2 và nguồn điện ba pha.",
        "Có thể tích hợp {b} khi mở rộng công suất lên {m} lần.",
        "Đơn vị chuyển giao hỗ trợ lập hồ sơ xin ưu đãi và vay vốn đổi mới công nghệ.",
        "Chi phí bảo trì dưới {k} triệu đồng mỗi năm, đào tạo {n} kỹ thuật viên tại chỗ.",
    ),
    "en": (
        "Deployed at {n} {w} in {p} since {y}.",
        "Uses {k}% less energy and {m}% less labour than current practice.",
        "Combines {a} with {b} for stable operation all year round.",
        "Pays back in about {m} months at a scale of {n} units.",
        "The team of {n} experts has {m} papers and {k} patents in the field.",
        "Controlled from a phone, with fault alerts and a {m}-day log.",
        "Main materials are sourced locally; spare parts arrive within {k} days.",
        "Meets national standards and was accepted by {w} in {p}.",
        "Suits {w} with at least {n} m2 of floor space and three-phase power.",
        "Can add {b} when scaling capacity up {m} times.",
        "The provider helps prepare incentive and innovation loan applications.",
        "Maintenance costs under {k} million dong a year; {n} technicians trained on site.",
    ),
}
GLOSSARY_TITLES = {
    ("offer", "vi"): ("Công nghệ {a} cho {w}", "Giải pháp {a} kết hợp {b}", "Quy trình {a} quy mô {n} đơn vị"),
    ("offer", "en"): ("{A} for {w}", "{A} combined with {b}", "{A} process at {n}-unit scale"),
    ("demand", "vi"): (
        "Cần tìm công nghệ {a} cho {w}",
        "Tìm đối tác chuyển giao {a} và {b}",
        "Cần giải pháp {a} ở {p}",
    ),
    ("demand", "en"): ("Looking for {a} for {w}", "Seeking a partner for {a} and {b}", "{A} needed in {p}"),
}


def offer_text(topic: Topic, lang: str, v: int) -> dict[str, Any]:
    """An offer's text fields in one language, the v-th variant (scale, savings, months of trials)."""
    name, use, keywords, unit = topic.vi if lang == "vi" else topic.en
    scale, saving, months = topic.scales[v % len(topic.scales)], 15 + 5 * (v % 7), 6 + 3 * (v % 5)
    if lang == "vi":
        return {
            "title": f"{name[0].upper()}{name[1:]} cho {use}, công suất {scale} {unit}",
            "summary": f"Giải pháp {name} đã thử nghiệm thực tế, công suất {scale} {unit}, giảm {saving}% chi phí vận hành.",
            "description": (
                f"Công nghệ {name} do nhóm nghiên cứu trong nước phát triển cho {use}. Hệ thống đạt công suất {scale} {unit}, "
                f"giảm {saving}% chi phí so với giải pháp nhập khẩu và đã vận hành thử {months} tháng tại cơ sở sản xuất. "
                "Gói chuyển giao gồm hồ sơ thiết kế, quy trình vận hành, đào tạo kỹ thuật viên và bảo hành 12 tháng. "
                "Thiết bị chính chế tạo trong nước, dễ thay thế linh kiện và bảo trì."
            ),
            "keywords": list(keywords),
        }
    return {
        "title": f"{name[0].upper()}{name[1:]} for {use}, {scale} {unit}",
        "summary": f"Field-tested {name} with a capacity of {scale} {unit}, cutting operating costs by {saving}%.",
        "description": (
            f"A {name} developed by a Vietnamese research team for {use}. It handles {scale} {unit}, costs {saving}% less "
            f"to run than imported equipment and has run for {months} months at a production site. The transfer package "
            "includes design documents, operating procedures, technician training and a 12-month warranty. "
            "The main equipment is made locally, so spare parts and maintenance are easy to find."
        ),
        "keywords": list(keywords),
    }


def demand_text(topic: Topic, lang: str, v: int) -> dict[str, Any]:
    """A demand's text fields in one language, the v-th variant."""
    name, use, keywords, unit = topic.vi if lang == "vi" else topic.en
    scale, months = topic.scales[v % len(topic.scales)], 3 + 3 * (v // len(topic.scales))
    if lang == "vi":
        return {
            "title": f"Cần tìm {name} cho {use}, quy mô {scale} {unit}",
            "description": (
                f"Doanh nghiệp chúng tôi cần {name} để phục vụ {use} với quy mô {scale} {unit}. "
                f"Yêu cầu công nghệ đã được kiểm chứng, có thể lắp đặt và vận hành trong vòng {months} tháng, "
                "chi phí vận hành thấp và có đào tạo nhân sự vận hành. Ưu tiên đơn vị chuyển giao có kinh nghiệm triển khai tại Việt Nam. "
                "Chúng tôi sẵn sàng bố trí mặt bằng chạy thử, chia sẻ số liệu vận hành "
                "và đồng tài trợ việc điều chỉnh theo nguyên liệu địa phương."
            ),
            "keywords": list(keywords),
        }
    return {
        "title": f"Looking for {name} for {use}, {scale} {unit}",
        "description": (
            f"Our company needs {name} for {use} at a scale of {scale} {unit}. The technology must be proven, "
            f"installed and running within {months} months, cheap to operate, and come with operator training. "
            "Providers with deployments in Vietnam are preferred. We can host trials at our site, share operating data "
            "and co-fund adaptation to local raw materials; a licence or an equipment purchase with training both suit us."
        ),
        "keywords": list(keywords),
    }


def _terms(group: tuple[str, ...], lang: str) -> list[str]:
    """A glossary group's terms written in one language (Vietnamese ones carry diacritics)."""
    vi = [t for t in group if _folded(t) != t]
    en = [t for t in group if _folded(t) == t]
    return (vi if lang == "vi" else en) or list(group)


def _folded(term: str) -> str:
    decomposed = unicodedata.normalize("NFD", term.replace("đ", "d"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _fill(template: str, rng: random.Random, lang: str, a: str, b: str) -> str:
    n, m, k = rng.choice((2, 3, 5, 8, 12, 20, 40)), rng.randint(2, 36), rng.randint(5, 60)
    return template.format(
        n=n,
        m=m,
        k=k,
        y=rng.randint(2015, 2025),
        p=rng.choice(PLACES),
        w=rng.choice(PARTNERS[lang]),
        a=a,
        b=b,
        A=a[:1].upper() + a[1:],
    )


def _details(rng: random.Random, lang: str, a: str, b: str) -> str:
    return " ".join(_fill(t, rng, lang, a, b) for t in rng.sample(SENTENCES[lang], rng.randint(3, 5)))


def listing_text(n: int) -> tuple[str, str, str, str, dict[str, Any]]:
    """The n-th listing's (kind, sector, strategic group, language, text fields), mostly unlike any other listing's."""
    rng = random.Random(n * 7919 + 21)
    kind = "offer" if n % 5 < 3 else "demand"
    lang = rng.choice(("vi", "en"))
    if rng.random() < TOPIC_SHARE:
        topic = rng.choice(TOPICS)
        text = (offer_text if kind == "offer" else demand_text)(topic, lang, rng.randrange(60))
        name, use = (topic.vi if lang == "vi" else topic.en)[:2]
        text["description"] += " " + _details(rng, lang, name, use)
        return kind, topic.sector, topic.group, lang, text
    a_group, b_group, c_group = rng.sample(GLOSSARY, 3)
    a, b, c = (rng.choice(_terms(g, lang)) for g in (a_group, b_group, c_group))
    title = _fill(rng.choice(GLOSSARY_TITLES[kind, lang]), rng, lang, a, b)
    summary = _fill(rng.choice(SENTENCES[lang]), rng, lang, a, c)
    text = {
        "title": title,
        "description": f"{title}. {_details(rng, lang, a, b)} {_fill(rng.choice(SENTENCES[lang]), rng, lang, c, a)}",
        "keywords": list(dict.fromkeys((a, b, c))),
    }
    if kind == "offer":
        text["summary"] = summary
    return kind, rng.choice(SECTORS), rng.choice(GROUPS), lang, text


def vector_group(n: int) -> tuple[str, str, str]:
    """Listings whose benchmark vector is shared: the same kind, sector and language."""
    kind, sector, _, lang, _ = listing_text(n)
    return kind, sector, lang


def listing_body(n: int) -> tuple[str, dict[str, Any]]:
    """The n-th listing's create body (kind, body): its text, region, TRL, price or budget, modes and IP vary with n."""
    kind, sector, group, lang, text = listing_text(n)
    body: dict[str, Any] = {
        **text,
        "language": lang,
        "sector": sector,
        "strategic_groups": [group],
        "region": REGIONS[(n * 7) % len(REGIONS)],
    }
    modes = list(MODES[(n * 5 + n // 20) % len(MODES)])
    amount = (2 + (n * 13) % 48) * 100_000_000
    if kind == "offer":
        body.update(
            trl=3 + (n * 3 + n // 7) % 7,
            ip_status=IP[n % len(IP)],
            transfer_modes=modes,
            price={"amount": amount, "currency": "VND"},
            price_type=("indicative", "floor", "firm")[n % 3],
        )
        if body["ip_status"] in ("patent_granted", "utility_solution"):
            body["patent_numbers"] = [f"1-00{30000 + n % 9000}"]
    else:
        body.update(
            trl_min=4 + n % 5,
            preferred_transfer_modes=modes,
            budget_max={"amount": amount, "currency": "VND"},
            deadline=f"2027-{1 + n % 12:02d}-28",
        )
    return kind, body


# What people type: with and without diacritics, English, some with filters, facets or another sort.
QUERIES: tuple[dict[str, Any], ...] = (
    {"q": "xử lý nước thải chăn nuôi"},
    {"q": "xu ly nuoc thai chan nuoi"},
    {"q": "máy sấy cà phê"},
    {"q": "may say nong san bom nhiet"},
    {"q": "nuôi tôm tuần hoàn"},
    {"q": "nuoi tom RAS"},
    {"q": "cảm biến IoT chất lượng nước"},
    {"q": "robot hàn tự động"},
    {"q": "chiết xuất tinh dầu CO2"},
    {"q": "gach khong nung tro xi"},
    {"q": "điện mặt trời áp mái"},
    {"q": "truy xuat nguon goc QR"},
    {"q": "phân bón hữu cơ vi sinh"},
    {"q": "wastewater treatment membrane"},
    {"q": "solar dryer coffee"},
    {"q": "shrimp recirculating aquaculture"},
    {"q": "welding robot"},
    {"q": "fly ash bricks"},
    {"q": "AI defect detection camera"},
    {"q": "drip irrigation durian"},
    {"q": "nước thải", "sector": "207", "facets": "sector,region,trl"},
    {"q": "solar", "trl_min": 6, "transfer_mode": "license"},
    {"q": "say ca phe", "region": "66"},
    {"q": "enzyme", "language": "en", "facets": "language,transfer_modes"},
    {"q": "vi sinh", "facets": "sector,region"},
    {"q": "tưới nhỏ giọt", "price_max": 2_000_000_000},
    {"q": "dược liệu", "sort": "published_at"},
    {"sector": "401", "sort": "published_at"},
)
