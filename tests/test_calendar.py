from datetime import date

from api.calendar.service import closed_days, national_holidays


def test_national_holidays_include_substitute_holiday():
    hol = national_holidays(date(2026, 1, 1), date(2026, 12, 31))
    assert hol[date(2026, 1, 12)] == "成人の日"
    # 2026-05-06 is a 振替休日 (憲法記念日 falls on Sunday 5/3).
    assert date(2026, 5, 6) in hol
    assert date(2026, 5, 7) not in hol


def test_new_year_closure_and_municipal_days(database):
    from api.models import ClosedDay

    with database.session() as s:
        s.add(ClosedDay(day=date(2026, 11, 30), name="庁舎停電点検"))
        s.commit()
        days = closed_days(s, date(2026, 11, 1), date(2027, 1, 10))
    assert days[date(2026, 11, 30)] == "庁舎停電点検"
    assert days[date(2026, 12, 29)] == "年末年始"
    assert days[date(2027, 1, 1)] == "元日"  # a national holiday keeps its own name
    assert days[date(2027, 1, 3)] == "年末年始"
    assert date(2027, 1, 4) not in days
