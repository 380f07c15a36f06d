"""Unit tests of the national lists and the region normaliser."""

from collections import Counter

import msgspec
import pytest

from exchange.kernel import taxonomy as tx

pytestmark = pytest.mark.unit

OFFICIAL_SECTORS = {
    "101", "102", "103", "104", "105", "106", "199",
    "201", "202", "203", "204", "205", "206", "207", "208", "209", "210", "211", "299",
    "301", "302", "303", "304", "305", "399",
    "401", "402", "403", "404", "405", "406", "499",
    "501", "502", "503", "504", "505", "506", "507", "508", "599",
    "601", "602", "603", "604", "699",
}  # fmt: skip

CURRENT_PROVINCES = {
    "01", "04", "08", "11", "12", "14", "15", "19", "20", "22", "24", "25", "31", "33", "37", "38", "40",
    "42", "44", "46", "48", "51", "52", "56", "66", "68", "75", "79", "80", "82", "86", "91", "92", "96",
}  # fmt: skip

OLD_CODES = {
    "01": "Hà Nội", "02": "Hà Giang", "04": "Cao Bằng", "06": "Bắc Kạn", "08": "Tuyên Quang",
    "10": "Lào Cai", "11": "Điện Biên", "12": "Lai Châu", "14": "Sơn La", "15": "Yên Bái",
    "17": "Hòa Bình", "19": "Thái Nguyên", "20": "Lạng Sơn", "22": "Quảng Ninh", "24": "Bắc Giang",
    "25": "Phú Thọ", "26": "Vĩnh Phúc", "27": "Bắc Ninh", "30": "Hải Dương", "31": "Hải Phòng",
    "33": "Hưng Yên", "34": "Thái Bình", "35": "Hà Nam", "36": "Nam Định", "37": "Ninh Bình",
    "38": "Thanh Hóa", "40": "Nghệ An", "42": "Hà Tĩnh", "44": "Quảng Bình", "45": "Quảng Trị",
    "46": "Thừa Thiên Huế", "48": "Đà Nẵng", "49": "Quảng Nam", "51": "Quảng Ngãi", "52": "Bình Định",
    "54": "Phú Yên", "56": "Khánh Hòa", "58": "Ninh Thuận", "60": "Bình Thuận", "62": "Kon Tum",
    "64": "Gia Lai", "66": "Đắk Lắk", "67": "Đắk Nông", "68": "Lâm Đồng", "70": "Bình Phước",
    "72": "Tây Ninh", "74": "Bình Dương", "75": "Đồng Nai", "77": "Bà Rịa - Vũng Tàu", "79": "Hồ Chí Minh",
    "80": "Long An", "82": "Tiền Giang", "83": "Bến Tre", "84": "Trà Vinh", "86": "Vĩnh Long",
    "87": "Đồng Tháp", "89": "An Giang", "91": "Kiên Giang", "92": "Cần Thơ", "93": "Hậu Giang",
    "94": "Sóc Trăng", "95": "Bạc Liêu", "96": "Cà Mau",
}  # fmt: skip


def all_labelled():
    """Every entry that carries vi/en labels."""
    return (
        *tx.fields, *tx.sectors, *tx.strategic_groups, *tx.strategic_products,
        *tx.trl_levels, *tx.transfer_modes, *tx.ip_statuses, *tx.provinces,
    )  # fmt: skip


def test_fields():
    assert [f.code for f in tx.fields] == ["1", "2", "3", "4", "5", "6"]
    assert tx.fields[1].vi == "Khoa học kỹ thuật và công nghệ"
    assert tx.FIELD_CODES == {"1", "2", "3", "4", "5", "6"}


def test_sectors_are_the_official_46():
    codes = [s.code for s in tx.sectors]
    assert len(codes) == 46
    assert set(codes) == OFFICIAL_SECTORS == tx.SECTOR_CODES
    assert codes == sorted(codes)
    counts = Counter(s.field for s in tx.sectors)
    assert [counts[f] for f in "123456"] == [7, 12, 6, 7, 9, 5]
    assert all(s.code[0] == s.field for s in tx.sectors)


@pytest.mark.parametrize(
    ("code", "ford", "vi"),
    [
        ("101", "1.1", "Toán học và thống kê"),
        ("199", "1.7", "Khoa học tự nhiên khác"),
        ("207", "2.7", "Kỹ thuật môi trường"),
        ("210", "2.10", "Công nghệ nano"),
        ("211", "2.11", "Kỹ thuật thực phẩm và đồ uống"),
        ("304", "3.1", "Dược học"),
        ("404", "4.1", "Lâm nghiệp"),
        ("405", "4.1", "Thủy sản"),
        ("508", "5.8", "Thông tin đại chúng và truyền thông"),
        ("604", "6.4", "Nghệ thuật"),
        ("699", "6.5", "Khoa học nhân văn khác"),
    ],
)
def test_sector_spot_checks(code, ford, vi):
    s = tx.sector(code)
    assert s is not None
    assert (s.ford, s.vi) == (ford, vi)


def test_ford_classes_lie_in_their_field():
    for s in tx.sectors:
        assert s.ford.split(".")[0] == s.field, s.code
    # Most sectors follow d.nn -> d.n; the "other" classes, the Vietnamese splits and the
    # biotech classes after a split (305 -> 3.4, 406 -> 4.4) do not.
    off_rule = {"199", "211", "299", "304", "305", "399", "401", "404", "405", "406", "499", "599", "699"}
    for s in tx.sectors:
        if s.code not in off_rule:
            assert s.ford == f"{s.code[0]}.{int(s.code[1:])}", s.code
    by_code = {s.code: s.ford for s in tx.sectors}
    assert [by_code[c] for c in sorted(off_rule)] == [
        "1.7", "2.11", "2.11", "3.1", "3.4", "3.5", "4.1", "4.1", "4.1", "4.4", "4.5", "5.9", "6.5",
    ]  # fmt: skip


def test_is_sector():
    assert tx.is_sector("207")
    assert not tx.is_sector("107")
    assert not tx.is_sector("2.7")
    assert tx.sector("999") is None


def test_sector_source_note():
    note = tx.SECTOR_SOURCE_NOTE
    assert "24/2025/TT-BKHCN" in note and "12/2008" in note and "FORD 2015" in note
    assert tx.TAXONOMY.sector_source == note


def test_strategic_groups():
    assert [g.code for g in tx.strategic_groups] == [
        "digital", "mobile_networks", "robotics_automation", "biotech_biomedicine", "energy_materials",
        "semiconductors", "cybersecurity_quantum", "marine_subsoil", "aerospace", "railway",
    ]  # fmt: skip
    assert tx.is_strategic_group("railway")
    assert not tx.is_strategic_group("blockchain")
    assert "21/2026" in tx.STRATEGIC_SOURCE and "1 July 2026" in tx.STRATEGIC_SOURCE


def test_strategic_products():
    products = tx.strategic_products
    assert [p.code for p in products] == [f"p{n:02d}" for n in range(1, 31)]
    assert [p.part for p in products] == ["I"] * 22 + ["II"] * 8
    assert all(p.group in tx.STRATEGIC_GROUP_CODES for p in products)
    # Every group has at least one product.
    assert {p.group for p in products} == tx.STRATEGIC_GROUP_CODES
    assert products[22].group == "semiconductors"
    assert products[28].group == "railway"
    assert "inferred" in tx.TAXONOMY.strategic_product_note


def test_trl_levels():
    assert [t.level for t in tx.trl_levels] == list(range(1, 10))
    assert tx.trl_levels[0].en == "Basic principles observed"
    assert tx.trl_levels[8].en == "Actual system proven in operational environment"


def test_transfer_modes_and_ip_statuses():
    assert [m.code for m in tx.transfer_modes] == [
        "license", "assignment", "capital_contribution", "joint_venture",
        "rnd_cooperation", "consulting", "equipment_sale",
    ]  # fmt: skip
    assert tx.TRANSFER_MODE_CODES == {m.code for m in tx.transfer_modes}
    assert [s.code for s in tx.ip_statuses] == [
        "patent_granted",
        "patent_pending",
        "utility_solution",
        "know_how",
        "none",
    ]
    assert tx.IP_STATUS_CODES == {s.code for s in tx.ip_statuses}
    assert tx.ip_statuses[2].vi == "Giải pháp hữu ích"


def test_provinces_are_the_34_units():
    assert len(tx.provinces) == 34
    assert {p.code for p in tx.provinces} == CURRENT_PROVINCES == tx.PROVINCE_CODES
    kinds = Counter(p.kind for p in tx.provinces)
    assert kinds == {"city": 9, "province": 25}
    cities = {p.code for p in tx.provinces if p.kind == "city"}
    assert cities == {"01", "22", "24", "31", "46", "48", "75", "79", "92"}


def test_province_composition():
    assert sum(1 for p in tx.provinces if not p.former) == 11
    assert Counter(len(p.former) for p in tx.provinces if p.former) == {2: 17, 3: 6}
    for p in tx.provinces:
        assert p.code in p.former_codes, p.code
        assert len(p.former_codes) == max(1, len(p.former)), p.code
    hcm = tx.province("79")
    assert hcm is not None and hcm.vi == "Hồ Chí Minh" and set(hcm.former_codes) == {"74", "77", "79"}
    assert "Bình Dương" in hcm.former
    assert tx.province("02") is None


def test_old_codes_each_map_to_one_unit():
    owners = Counter(code for p in tx.provinces for code in p.former_codes)
    assert set(owners) == set(OLD_CODES)
    assert set(owners.values()) == {1}
    for code in CURRENT_PROVINCES:
        assert tx.normalize_region(code) == code


@pytest.mark.parametrize("old_code", sorted(OLD_CODES))
def test_old_code_and_old_name_agree(old_code):
    unit = tx.normalize_region(old_code)
    assert unit in CURRENT_PROVINCES
    assert old_code in tx.province(unit).former_codes
    assert tx.normalize_region(OLD_CODES[old_code]) == unit


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("79", "79"),
        ("TP.HCM", "79"),
        ("TP. Hồ Chí Minh", "79"),
        ("Thành phố Hồ Chí Minh", "79"),
        ("ho chi minh city", "79"),
        ("HCMC", "79"),
        ("Saigon", "79"),
        ("Sài Gòn", "79"),
        ("Bình Dương", "79"),
        ("binh duong", "79"),
        ("Tỉnh Bình Dương", "79"),
        ("Bà Rịa - Vũng Tàu", "79"),
        ("Bà Rịa–Vũng Tàu", "79"),
        ("ba ria vung tau", "79"),
        ("Hà Giang", "08"),
        ("ha giang", "08"),
        ("  HÀ   GIANG ", "08"),
        ("Hanoi", "01"),
        ("Ha Noi", "01"),
        ("Tp. Hà Nội", "01"),
        ("Quảng Bình", "44"),
        ("Kon Tum", "51"),
        ("Bình Định", "52"),
        ("Đắk Nông", "68"),
        ("dak nong", "68"),
        ("DAK NONG", "68"),
        ("Thừa Thiên Huế", "46"),
        ("Thua Thien - Hue", "46"),
        ("Hue", "46"),
        ("Sóc Trăng", "92"),
        ("Da Nang", "48"),
        ("Đồng Nai", "75"),
        ("Bắc Giang", "24"),
        ("62", "51"),
        ("27", "24"),
    ],
)
def test_normalize_region(value, expected):
    assert tx.normalize_region(value) == expected


@pytest.mark.parametrize("value", ["Atlantis", "", "   ", "7", "079", "00", "Tỉnh", "TP", "Thành phố", "Hà", "Bình"])
def test_normalize_region_rejects(value):
    assert tx.normalize_region(value) is None


def test_labels_present_and_vietnamese():
    for entry in all_labelled():
        assert entry.vi.strip() and entry.en.strip(), entry
        assert entry.en.isascii(), entry.en
    vi = {s.code: s.vi for s in tx.sectors}
    for code in ("102", "104", "201", "303", "403", "505", "601"):
        assert not vi[code].isascii(), code
    # Exact diacritics, not just "some non-ASCII".
    assert vi["103"] == "Vật lý"
    assert vi["504"] == "Xã hội học"
    assert tx.province("66").vi == "Đắk Lắk"


def test_taxonomy_is_frozen_and_serialises():
    body = msgspec.json.decode(msgspec.json.encode(tx.TAXONOMY))
    assert len(body["sectors"]) == 46
    assert body["sectors"][0] == {
        "code": "101",
        "field": "1",
        "ford": "1.1",
        "vi": "Toán học và thống kê",
        "en": "Mathematics and statistics",
    }
    assert body["provinces"][-1]["former_codes"] == ["95", "96"]
    assert body["strategic_products"][0]["part"] == "I"
    assert len(body["trl_levels"]) == 9
    with pytest.raises(AttributeError):
        tx.TAXONOMY.sectors = ()  # type: ignore[misc]
    with pytest.raises(AttributeError):
        tx.sectors[0].vi = "x"  # type: ignore[misc]
