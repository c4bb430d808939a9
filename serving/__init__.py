"""Server plumbing shared by ``mllm_server`` and ``index_server`` (not part of the SDK).

``bootstrap`` (config, flags, start / serve / stop), ``interceptors`` (request ids, exception
-> status, token auth) and ``logs``. It depends only on the contract (``fitrep.domain``,
``fitrep.rpc_errors``); the servers depend on it, the SDK never does.
"""
