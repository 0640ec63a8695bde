"""Reading a query as numpy columns: PostgreSQL's binary COPY path and the row path give the
same arrays as Django's own rows, and a NULL where a width is expected is refused."""

import numpy as np
import pytest
from django.db.models import F, FloatField, Value
from django.db.models.functions import Coalesce

from elicitation.models import WisdomVote
from moralgraph.columns import query_columns
from moralgraph.loaders import Epoch
from tests.factories import voted_study

pytestmark = pytest.mark.django_db


def test_columns_hold_what_the_rows_hold(study):
    voted_study(study, voters=5)
    query = (
        WisdomVote.objects.order_by("id")
        .annotate(ctx=F("hypothesis__context_id"), at=Epoch("created_at"))
        .values_list("id", "participant_id", "ctx", "at")
    )
    ids, raters, contexts, at = query_columns(query, ["i8", "i8", "i8", "f8"])
    rows = list(query)
    assert len(rows) >= 5
    assert ids.tolist() == [row[0] for row in rows]
    assert raters.tolist() == [row[1] for row in rows]
    assert contexts.tolist() == [row[2] for row in rows]
    assert at == pytest.approx([row[3] for row in rows], abs=1e-6)


def test_a_missing_float_reads_as_nan_when_coalesced(study):
    voted_study(study, voters=2)
    nan = Value(float("nan"), output_field=FloatField())
    query = WisdomVote.objects.annotate(never=Coalesce(Value(None, FloatField()), nan))
    [never] = query_columns(query.values_list("never"), ["f8"])
    assert len(never) >= 2 and np.isnan(never).all()


@pytest.mark.parametrize("nothing", [{"pk": -1}, {"pk__in": []}])
def test_no_rows_give_empty_columns(study, nothing):
    query = WisdomVote.objects.filter(**nothing).values_list("id", "id")
    ids, at = query_columns(query, ["i8", "f8"])
    assert ids.dtype == np.int64 and len(ids) == 0 and at.dtype == np.float64


def test_a_null_in_a_binary_read_is_refused(study, settings):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the binary COPY path is PostgreSQL's")
    voted_study(study, voters=2)
    query = WisdomVote.objects.annotate(nothing=Value(None, FloatField()))
    with pytest.raises(ValueError, match="NULL"):
        query_columns(query.values_list("id", "nothing"), ["i8", "f8"])
