"""Workflow 102 (recommendations from MovieLens ratings).

- :mod:`.movie_graph`: films and users as memories with rating links.
- :mod:`.recommend`: the hybrid recommender (similarity, spreading activation, decay).
- :mod:`.popularity`: the most-popular baseline.
- :mod:`.ranking`: hit rate@k and NDCG@k for held-out items.
- :mod:`.paired`: a paired bootstrap test of "A is better than B" on the same users.
"""
