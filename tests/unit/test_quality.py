"""The quality score and its hints."""

from listings.quality import QualityInput, has_measurable_claims, score

LONG_VI = (
    "Công nghệ kết hợp bể kỵ khí UASB và màng sinh học MBR để xử lý nước thải chăn nuôi heo. "
    "Hiệu suất khử COD đạt 95%, khử nitơ tổng 85%, chi phí vận hành 4.500 đồng/m3. "
    "Hệ thống đã chạy thử tại 3 trang trại với công suất 50 m3/ngày trong 18 tháng, nước sau xử lý "
    "đạt quy chuẩn cột A và có thể tái sử dụng để rửa chuồng, giảm 40% diện tích lắp đặt. "
    "Bùn thải được ép và ủ thành phân bón hữu cơ, lượng bùn giảm 60% so với công nghệ bùn hoạt tính."
)


def complete_offer(**overrides):
    values = dict(
        kind="offer",
        title="Xử lý nước thải chăn nuôi bằng MBR",
        description=LONG_VI,
        summary="Hệ thống MBR xử lý nước thải chăn nuôi heo, công suất 50 m3/ngày.",
        keywords=["nước thải", "MBR", "chăn nuôi"],
        trl=7,
        ip_status="patent_granted",
        patent_numbers=["1-0034567"],
        transfer_modes=["license"],
        has_price=True,
        has_contact=True,
    )
    values.update(overrides)
    return QualityInput(**values)


def test_complete_offer_scores_100_without_hints():
    quality = score(complete_offer())
    assert quality.score == 100
    assert quality.hints == []


def test_patented_offer_without_numbers_loses_points_with_a_hint():
    full = score(complete_offer()).score
    quality = score(complete_offer(patent_numbers=[]))
    assert quality.score == full - 10
    assert any("patent" in hint.lower() for hint in quality.hints)


def test_missing_trl_and_keywords_are_hinted():
    quality = score(complete_offer(trl=None, keywords=["MBR"]))
    assert quality.score == 80
    assert any("TRL" in hint for hint in quality.hints)
    assert any("keywords" in hint for hint in quality.hints)


def test_short_vague_description_scores_low():
    weak = score(
        complete_offer(
            description="Công nghệ mới, hiệu quả cao, giá tốt.",
            summary=None,
            keywords=[],
            trl=None,
            ip_status="none",
            patent_numbers=[],
            transfer_modes=[],
            has_price=False,
            has_contact=False,
        )
    )
    assert weak.score <= 10
    assert len(weak.hints) >= 6


def test_medium_description_earns_part_of_the_points():
    medium = "x" * 200
    full_length = score(complete_offer(description=LONG_VI + " " + "y" * 300)).score
    partial = score(complete_offer(description=medium + " 30% 50 m3"))
    assert partial.score < full_length
    assert any("at least 400" in hint for hint in partial.hints)


def test_demand_scoring_rewards_budget_deadline_and_trl():
    demand = QualityInput(
        kind="demand",
        title="Need wastewater treatment for seafood plant",
        description=LONG_VI,
        keywords=["wastewater", "seafood", "COD"],
        trl_min=6,
        transfer_modes=["license"],
        has_price=True,
        has_deadline=True,
        has_contact=True,
    )
    assert score(demand).score == 100
    bare = QualityInput(
        kind="demand",
        title="Need wastewater treatment for seafood plant",
        description=LONG_VI,
        keywords=["wastewater", "seafood", "COD"],
        transfer_modes=["license"],
        has_contact=True,
    )
    quality = score(bare)
    assert quality.score == 70
    assert any("budget" in hint for hint in quality.hints)
    assert any("deadline" in hint for hint in quality.hints)


def test_measurable_claims_need_two_quantities_with_units():
    assert has_measurable_claims("giảm 30% điện năng, công suất 2 tấn/giờ")
    assert has_measurable_claims("accuracy 98.5 % at 30 fps")
    assert not has_measurable_claims("hiệu quả cao, tiết kiệm chi phí")
    assert not has_measurable_claims("model 2024 version 3")
