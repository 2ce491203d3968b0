"""The object set shipped with dexndm-envs: ``catalogue.json`` (and, later, meshes).

Installed as the data package ``dexndm_objects``; read it through ``dexndm_envs.objects``.
"""
