"""Interview: answer in your own words, compare with a model answer, and watch the run that backs it."""

import streamlit as st

from sandbox.catalog import find_scenario
from sandbox.engine import run_scenario
from sandbox.ui import session, widgets

cards = session.cards()
progress = session.progress()


def _reveal(card_id: str) -> None:
    progress.card(card_id).answer = st.session_state.get(f"answer:{card_id}", "")
    st.session_state[f"revealed:{card_id}"] = True


def _covered(card_id: str, count: int) -> None:
    progress.card(card_id).covered = [i for i in range(count) if st.session_state.get(f"point:{card_id}:{i}")]


def _show_me(card_id: str, scenario_id: str) -> None:
    st.session_state["interview_run"] = (card_id, run_scenario(find_scenario(scenario_id)))


st.title("🎤 Interview prep")
if isinstance(cards, str):
    st.error(cards)
    st.stop()
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
    st.markdown("#### Model answer")
    st.markdown(card.answer)
    st.markdown("#### Key points — tick the ones your answer covered")
    covered = set(saved.covered) if saved is not None else set()
    for i, point in enumerate(card.key_points):
        key = f"point:{card.id}:{i}"
        if key not in st.session_state:
            st.session_state[key] = i in covered
        st.checkbox(point, key=key, on_change=_covered, args=(card.id, len(card.key_points)))
    ticked = sum(1 for i in range(len(card.key_points)) if st.session_state.get(f"point:{card.id}:{i}"))
    st.markdown(f"You covered **{ticked} of {len(card.key_points)}** key points.")
st.divider()
st.markdown(f"**Show me:** the scenario `{card.scenario_id}` demonstrates this answer.")
st.button("▶ show me", on_click=_show_me, args=(card.id, card.scenario_id), key="show_me")
shown = st.session_state.get("interview_run")
if shown is not None and shown[0] == card.id:
    result = shown[1]
    st.subheader(result.scenario.title)
    st.write(result.scenario.summary)
    widgets.run_result(result)
