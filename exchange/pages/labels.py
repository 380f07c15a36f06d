"""The words of the public pages in Vietnamese and English, and the names of coded values in either."""

from typing import Literal

from exchange.kernel import taxonomy

Lang = Literal["vi", "en"]
LANGS: tuple[Lang, ...] = ("vi", "en")

WORDS: dict[str, dict[Lang, str]] = {
    "site": {"vi": "Sàn giao dịch công nghệ quốc gia", "en": "National Technology Exchange"},
    "offer": {"vi": "Chào bán công nghệ", "en": "Technology offer"},
    "demand": {"vi": "Nhu cầu công nghệ", "en": "Technology demand"},
    "sector": {"vi": "Lĩnh vực", "en": "Sector"},
    "region": {"vi": "Tỉnh, thành phố", "en": "Province"},
    "keywords": {"vi": "Từ khóa", "en": "Keywords"},
    "trl": {"vi": "Mức độ sẵn sàng công nghệ (TRL)", "en": "Technology readiness level (TRL)"},
    "trl_min": {"vi": "TRL tối thiểu", "en": "Minimum TRL"},
    "ip_status": {"vi": "Tình trạng sở hữu trí tuệ", "en": "Intellectual property"},
    "patents": {"vi": "Số bằng", "en": "Patent numbers"},
    "transfer_modes": {"vi": "Phương thức chuyển giao", "en": "Transfer modes"},
    "preferred_transfer_modes": {"vi": "Phương thức chuyển giao mong muốn", "en": "Preferred transfer modes"},
    "price": {"vi": "Giá", "en": "Price"},
    "price_indicative": {"vi": "tham khảo", "en": "indicative"},
    "price_floor": {"vi": "giá sàn", "en": "floor"},
    "price_firm": {"vi": "giá cố định", "en": "firm"},
    "budget_max": {"vi": "Ngân sách tối đa", "en": "Maximum budget"},
    "deadline": {"vi": "Hạn cần", "en": "Needed by"},
    "licence": {"vi": "Li-xăng trực tuyến", "en": "Express licence"},
    "licence_term": {"vi": "Thời hạn (tháng)", "en": "Term (months)"},
    "published_at": {"vi": "Ngày đăng", "en": "Published"},
    "updated_at": {"vi": "Cập nhật", "en": "Updated"},
    "expires_at": {"vi": "Hết hạn", "en": "Expires"},
    "expiring_soon": {"vi": "Sắp hết hạn", "en": "Expiring soon"},
    "description": {"vi": "Mô tả", "en": "Description"},
    "contact_note": {
        "vi": "Thông tin liên hệ và chi tiết bảo mật chỉ được tiết lộ cho bên quan tâm đã được chấp thuận.",
        "en": "Contact and confidential details are disclosed only to a party whose interest was accepted.",
    },
    "not_found": {"vi": "Không tìm thấy trang", "en": "Page not found"},
    "not_found_text": {
        "vi": "Tin này không tồn tại hoặc không còn được công bố.",
        "en": "This listing does not exist or is no longer published.",
    },
    "stats": {"vi": "Thống kê sàn giao dịch", "en": "Exchange statistics"},
    "stats_description": {
        "vi": "Số liệu tổng hợp của sàn: tin đăng theo lĩnh vực và tỉnh, quan tâm, giao dịch, giá trị và phí.",
        "en": "Aggregates of the exchange: listings by sector and province, interests, deals, value and fees.",
    },
    "as_of": {"vi": "Số liệu tại thời điểm", "en": "Figures as of"},
    "by_sector": {"vi": "Tin đang công bố theo lĩnh vực", "en": "Published listings by sector"},
    "by_province": {
        "vi": "Tin đang công bố theo tỉnh, thành phố (34 đơn vị)",
        "en": "Published listings by province (34 units)",
    },
    "offers_vs_demands": {"vi": "Chào bán và nhu cầu đang công bố", "en": "Published offers and demands"},
    "offers": {"vi": "Chào bán", "en": "Offers"},
    "demands": {"vi": "Nhu cầu", "en": "Demands"},
    "interests": {"vi": "Quan tâm", "en": "Interests"},
    "pending": {"vi": "Đang chờ", "en": "Pending"},
    "accepted": {"vi": "Được chấp thuận", "en": "Accepted"},
    "declined": {"vi": "Bị từ chối", "en": "Declined"},
    "acceptance_rate": {"vi": "Tỷ lệ chấp thuận", "en": "Acceptance rate"},
    "no_decision": {"vi": "chưa có quyết định nào", "en": "no decision yet"},
    "deals": {"vi": "Giao dịch", "en": "Deals"},
    "deals_by_stage": {"vi": "Giao dịch theo giai đoạn", "en": "Deals by stage"},
    "stage_open": {"vi": "Mở", "en": "Open"},
    "stage_negotiating": {"vi": "Đang đàm phán", "en": "Negotiating"},
    "stage_agreed": {"vi": "Đã thỏa thuận", "en": "Agreed"},
    "stage_fee_pending": {"vi": "Chờ thanh toán phí", "en": "Fee pending"},
    "stage_closed": {"vi": "Hoàn tất", "en": "Closed"},
    "stage_cancelled": {"vi": "Đã hủy", "en": "Cancelled"},
    "over_time": {"vi": "Giá trị thỏa thuận và phí theo tháng", "en": "Agreed value and fees by month"},
    "agreed_value": {"vi": "Giá trị thỏa thuận", "en": "Agreed value"},
    "fees": {"vi": "Phí đã lập hóa đơn", "en": "Fees invoiced"},
    "month": {"vi": "Tháng", "en": "Month"},
    "total": {"vi": "Tổng", "en": "Total"},
    "count": {"vi": "Số lượng", "en": "Count"},
    "value": {"vi": "Giá trị (VND)", "en": "Value (VND)"},
    "data": {"vi": "Bảng số liệu", "en": "Data table"},
    "no_data": {"vi": "Chưa có số liệu", "en": "No figures yet"},
    "other_lang": {"vi": "English", "en": "Tiếng Việt"},
}


def word(key: str, lang: Lang) -> str:
    """A word of the pages in a language."""
    return WORDS[key][lang]


def words(lang: Lang) -> dict[str, str]:
    """Every word of the pages in a language."""
    return {key: value[lang] for key, value in WORDS.items()}


_TRANSFER_MODES = {m.code: m for m in taxonomy.transfer_modes}
_IP_STATUSES = {s.code: s for s in taxonomy.ip_statuses}
_TRL = {t.level: t for t in taxonomy.trl_levels}


def _named(item: object, code: object, lang: Lang) -> str:
    return getattr(item, lang) if item is not None else str(code)


sector = taxonomy.sector_name
province = taxonomy.province_name


def transfer_mode(code: str, lang: Lang) -> str:
    """A transfer mode's name."""
    return _named(_TRANSFER_MODES.get(code), code, lang)


def ip_status(code: str, lang: Lang) -> str:
    """An IP status's name."""
    return _named(_IP_STATUSES.get(code), code, lang)


def trl(level: int, lang: Lang) -> str:
    """A readiness level with its meaning."""
    return f"{level}: {_named(_TRL.get(level), level, lang)}"


def number(value: float, lang: Lang) -> str:
    """A whole number grouped in thousands as each language writes it (1.234.567 or 1,234,567)."""
    text = f"{value:,.0f}"
    return text.replace(",", ".") if lang == "vi" else text


def money(amount: int, currency: str, lang: Lang) -> str:
    """An amount of money in full, with its currency."""
    return f"{number(amount, lang)} {currency}"


def short_money(amount: float, lang: Lang) -> str:
    """An amount in VND shortened for a chart's labels (tỷ/triệu, bn/m)."""
    units = (
        ((1e9, " tỷ"), (1e6, " triệu"), (1e3, " nghìn")) if lang == "vi" else ((1e9, " bn"), (1e6, " m"), (1e3, " k"))
    )
    for size, unit in units:
        if abs(amount) >= size:
            text = f"{amount / size:.1f}".rstrip("0").rstrip(".")
            return (text.replace(".", ",") if lang == "vi" else text) + unit
    return number(amount, lang)


def percent(rate: float, lang: Lang) -> str:
    """A share as a percentage with one decimal."""
    text = f"{100 * rate:.1f}%"
    return text.replace(".", ",") if lang == "vi" else text


def pick(query_lang: str | None, accept_language: str | None) -> Lang:
    """The language of a page: ?lang= when it names one, else the first of Accept-Language (by q) we write, else vi."""
    if query_lang in LANGS:
        return query_lang  # type: ignore[return-value]
    best: tuple[float, int, Lang] | None = None
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGS:
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0 and (best is None or (q, -position) > (best[0], best[1])):
            best = (q, -position, primary)  # type: ignore[assignment]
    return best[2] if best is not None else "vi"
