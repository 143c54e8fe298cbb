"""The lab's real services: author, blog, user (Starlette apps under uvicorn) and cache-worker (a pika consumer).

Run one with `python -m sandbox.live.services SERVICE`; its configuration comes from the environment
(see `config.ServiceConfig.from_env`).
"""
