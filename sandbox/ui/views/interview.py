"""Interview: study the cards one by one, or sit a mock interview of five random cards with follow-ups."""

import secrets

import streamlit as st

from sandbox.catalog import find_scenario
from sandbox.engine import run_scenario
from sandbox.teach import mock_interview, review
from sandbox.teach.cards import Card
from sandbox.teach.lessons import lesson_ids
from sandbox.ui import session, widgets

OPEN_LESSON = "open_lesson"  # the lessons page opens the lesson whose id it finds here
MOCK = "mock_interview"

loaded = session.cards()
progress = session.progress()


def _reveal(card_id: str) -> None:
    progress.card(card_id).answer = st.session_state.get(f"answer:{card_id}", "")
    progress.card(card_id).graded = True  # the key points are shown now: what is not ticked was missed
    st.session_state[f"revealed:{card_id}"] = True


def _covered(card_id: str, count: int) -> None:
    progress.card(card_id).covered = [i for i in range(count) if st.session_state.get(f"point:{card_id}:{i}")]


def _show_me(card_id: str, scenario_id: str) -> None:
    st.session_state["interview_run"] = (card_id, run_scenario(find_scenario(scenario_id)))


def _study(cards: list[Card]) -> None:
    by_id = {card.id: card for card in cards}
    ids = list(by_id)
    card_id = st.sidebar.radio("question", ids, key="card_id",
                               format_func=lambda i: f"{ids.index(i) + 1}. {by_id[i].question}")
    answered = sum(1 for c in ids if progress.cards.get(c) and progress.cards[c].answer)
    st.sidebar.caption(f"{answered} of {len(ids)} answered in this session")
    card = by_id[card_id]
    st.caption(card.topic)
    st.header(card.question)
    saved = progress.cards.get(card.id)
    answer_key = f"answer:{card.id}"
    if answer_key not in st.session_state and saved is not None:
        st.session_state[answer_key] = saved.answer
    st.text_area("your answer — say it as you would to an interviewer", key=answer_key, height=140)
    revealed = st.session_state.get(f"revealed:{card.id}", False)
    if not revealed:
        st.button("show the model answer", type="primary", on_click=_reveal, args=(card.id,), key="reveal")
    else:
        st.markdown("### Model answer")
        st.markdown(card.answer)
        st.markdown("### Key points — tick the ones your answer covered")
        covered = set(saved.covered) if saved is not None else set()
        for i, point in enumerate(card.key_points):
            key = f"point:{card.id}:{i}"
            if key not in st.session_state:
                st.session_state[key] = i in covered
            st.checkbox(point, key=key, on_change=_covered, args=(card.id, len(card.key_points)))
        ticked = sum(1 for i in range(len(card.key_points)) if st.session_state.get(f"point:{card.id}:{i}"))
        st.markdown(f"You covered **{ticked} of {len(card.key_points)}** key points.")
        st.markdown(f"**The interviewer's next question:** {card.follow_up}")
    st.divider()
    st.markdown(f"**Show me:** the scenario `{card.scenario_id}` demonstrates this answer.")
    st.button("▶ show me", on_click=_show_me, args=(card.id, card.scenario_id), key="show_me")
    shown = st.session_state.get("interview_run")
    if shown is not None and shown[0] == card.id:
        result = shown[1]
        st.subheader(result.scenario.title)
        st.write(result.scenario.summary)
        widgets.run_result(result)


def _new_mock(cards: list[Card]) -> None:
    st.session_state[MOCK] = mock_interview.start(cards, secrets.randbelow(2**31))


def _answer(interview: mock_interview.MockInterview) -> None:
    interview.answer(st.session_state.get(f"mock_answer:{interview.position}", ""))


def _answer_follow_up(interview: mock_interview.MockInterview) -> None:
    interview.answer_follow_up(st.session_state.get(f"mock_follow_up:{interview.position}", ""))


def _grade(interview: mock_interview.MockInterview) -> None:
    turn = interview.turn
    count = len(turn.card.key_points)
    interview.grade([i for i in range(count) if st.session_state.get(f"mock_point:{interview.position}:{i}")])
    mine = progress.card(turn.card.id)  # the lessons page's "to review" reads the latest grade
    mine.answer, mine.covered, mine.graded = turn.answer, list(turn.covered), True


def _summary(interview: mock_interview.MockInterview) -> None:
    summary = interview.summary()
    st.header("How it went")
    st.markdown(f"You covered **{summary.covered} of {summary.total}** key points ({summary.share:.0%}).")
    for turn in interview.turns:
        mark = "✅" if not turn.missed else "◐"
        again = " (asked again)" if turn.repeat else ""
        st.markdown(f"{mark} **{turn.card.question}**{again} — {len(turn.covered)} of {len(turn.card.key_points)}")
        for point in turn.missed:
            st.markdown(f"  - to review: {point}")
    if summary.recovered:
        st.markdown(f"🔁 {len(summary.recovered)} missed card{'s' if len(summary.recovered) != 1 else ''} answered "
                    f"in full when {'they' if len(summary.recovered) != 1 else 'it'} came back.")
    if summary.review:
        st.markdown("### Lessons to review")
        titles = lesson_ids()
        for lesson_id in summary.review:
            if st.button(f"📚 {titles[lesson_id]}", key=f"review:{lesson_id}"):
                st.session_state[OPEN_LESSON] = lesson_id
                st.switch_page("views/lessons.py")
    else:
        st.success("Every key point covered. Try another round, or a challenge.", icon="🏆")
    st.button("↺ another mock interview", on_click=_new_mock, args=(cards,), key="mock_again")


def _mock(cards: list[Card]) -> None:
    if MOCK not in st.session_state:
        st.markdown(f"{mock_interview.QUESTIONS} questions at random. Answer each in writing as you would aloud; "
                    "the interviewer then asks a follow-up. Grade yourself against the key points at the end of "
                    "each question.")
        st.button("▶ start the interview", type="primary", on_click=_new_mock, args=(cards,), key="mock_start")
        return
    interview = st.session_state[MOCK]
    if interview.finished:
        _summary(interview)
        return
    turn, n = interview.turn, interview.position
    st.progress(n / len(interview.turns), text=f"question {n + 1} of {len(interview.turns)}")
    if turn.repeat:
        st.info(f"🔁 Back again: you missed key points here {review.GAP} questions ago. Answer it from memory.",
                icon="🔁")
    st.caption(turn.card.topic)
    st.header(turn.card.question)
    if interview.stage == "answer":
        st.text_area("your answer", key=f"mock_answer:{n}", height=160)
        st.button("answer", type="primary", on_click=_answer, args=(interview,), key="mock_answer")
        return
    st.markdown(f"> {turn.answer or '(no answer)'}")
    st.markdown(f"**Interviewer:** {turn.card.follow_up}")
    if interview.stage == "follow_up":
        st.text_area("your answer to the follow-up", key=f"mock_follow_up:{n}", height=120)
        st.button("answer", type="primary", on_click=_answer_follow_up, args=(interview,), key="mock_follow")
        return
    st.markdown(f"> {turn.follow_up_answer or '(no answer)'}")
    st.markdown("### Model answer")
    st.markdown(turn.card.answer)
    st.markdown("### Key points — tick the ones your answers covered")
    for i, point in enumerate(turn.card.key_points):
        st.checkbox(point, key=f"mock_point:{n}:{i}")
    last = n == len(interview.turns) - 1
    st.button("see how it went" if last else "next question →", type="primary", on_click=_grade, args=(interview,),
              key="mock_next")


st.title("🎤 Interview prep")
if isinstance(loaded, str):
    st.error(loaded)
    st.stop()
cards: list[Card] = loaded
mode = st.radio("mode", ["study the cards", "mock interview"], key="interview_mode", horizontal=True,
                label_visibility="collapsed")
if mode == "study the cards":
    _study(cards)
else:
    _mock(cards)
