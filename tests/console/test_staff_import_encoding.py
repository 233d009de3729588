"""The staff import tells UTF-8 (with or without BOM) from CP932 by the bytes."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st

from api.staff.importer import encoding_of

JAPANESE = st.text(alphabet=st.sampled_from("山田太郎佐藤花子総務課ヤマダタロウ正規会計年度任用,0123\r\n"),
                   min_size=1, max_size=200)


@given(st.text(max_size=300), st.booleans())
def test_any_utf8_text_is_read_as_utf8(text: str, bom: bool) -> None:
    data = ("\ufeff" if bom else "").encode() + text.encode()
    file = io.BytesIO(data)
    assert encoding_of(file) == ("utf-8-sig", "UTF-8")
    assert file.tell() == 0  # rewound for the reader


@given(JAPANESE)
def test_japanese_cp932_is_read_as_cp932(text: str) -> None:
    data = text.encode("cp932")
    codec, _label = encoding_of(io.BytesIO(data))
    assert data.decode(codec) == text
