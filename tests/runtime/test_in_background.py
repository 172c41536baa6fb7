"""A write in flight in a thread of its own answers as if it had been made in place: its result,
or its error raised in the caller; a connector that must keep to its thread writes in place."""

import threading

import pytest

from engine.apply import in_background
from engine.errors import ConnectorError


def test_a_threaded_write_answers_its_result_from_another_thread():
    answer = in_background(lambda: threading.current_thread().name, threaded=True)
    assert answer() == "syncmap write" != threading.current_thread().name


def test_a_threaded_writes_error_is_raised_in_the_caller():
    error = ConnectorError("the org refused the session")

    def refused():
        raise error

    answer = in_background(refused, threaded=True)
    with pytest.raises(ConnectorError) as raised:
        answer()
    assert raised.value is error


def test_a_write_not_threaded_is_made_at_once_in_the_callers_thread():
    made = []
    answer = in_background(lambda: made.append(threading.current_thread().name) or len(made), threaded=False)
    assert made == [threading.current_thread().name] and answer() == 1
