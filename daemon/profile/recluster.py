"""The nightly re-cluster: DBSCAN over every face of one engine, exact or through faiss.

Same parameters and semantics as the incremental rule in people.py, so a face's person only
changes at night where arrival order had made the incremental result drift.
"""

from __future__ import annotations

import os

import numpy as np
from numpy.typing import NDArray
from shadowlens.daemon.profile.people import BLOCK_FLOATS, UNASSIGNED, ClusterParams

# Above EXACT_LIMIT, recluster keeps each face's NEIGHBOUR_CAP nearest neighbours within
# max_distance, not all of them: a person with 20,000 photos would otherwise be 4e8 pairs. The
# core rule stays exact while min_faces <= the cap, and a big person stays connected through
# overlapping 32-nearest lists.
NEIGHBOUR_CAP = 32
# Exact DBSCAN up to this many faces (20k take ~3 s on 2 cores, two passes of products); above
# it the quadratic cost dominates and recluster asks faiss for approximate nearest neighbours.
EXACT_LIMIT = 20_000
# faiss's inverted file: about 4 cells per sqrt(n) faces, trained on a sample, each face
# compared with the faces of the IVF_PROBES cells nearest to it. Measured on 300k synthetic
# faces (bench/rows_people.py): every identity recovered exactly in ~25 s. HNSW (M 16,
# efSearch 64-128) was tried first: 3-5% of faces did not find themselves in its graph, which
# left 47-523 of 270k faces as noise and split 3-5-face fragments off 5,000-face persons.
IVF_CELLS_PER_ROOT, IVF_PROBES, IVF_TRAIN_PER_CELL = 4, 4, 24


def recluster(vectors: NDArray[np.float32], params: ClusterParams) -> NDArray[np.int64]:
    """DBSCAN labels 0..k-1 (-1 noise) for L2-normalised rows, numbered by first core face.

    Core faces have >= min_faces neighbours within max_distance, themselves included; clusters
    are connected components of core faces; a border face joins its nearest core's cluster.
    Exact up to EXACT_LIMIT faces; above, over each face's NEIGHBOUR_CAP nearest from faiss.
    """
    points = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
    if len(points) == 0:
        return np.empty(0, dtype=np.int64)
    find = _exact_graph if len(points) <= EXACT_LIMIT else _approximate_graph
    return _label(*find(points, params))


# Core mask; core-to-core edges as positions among the core faces; each face's nearest core (-1).
Graph = tuple[NDArray[np.bool_], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]


def _exact_graph(points: NDArray[np.float32], params: ClusterParams) -> Graph:
    """Two passes of blocked products: count neighbours, then link cores and find borders.

    No pair list is kept (a person with 20,000 photos would be 4e8 pairs): each block links its
    core faces to the representatives of the components they touch, so the state carried from
    block to block is one representative per core face.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n, floor = len(points), 1.0 - params.max_distance
    block = max(1, BLOCK_FLOATS // n)
    counts = np.concatenate(
        [(points[i : i + block] @ points.T >= floor).sum(axis=1) for i in range(0, n, block)]
    )
    core = counts >= params.min_faces  # a face is its own neighbour: its dot with itself is 1
    core_rows = np.flatnonzero(core)
    m = len(core_rows)
    nearest_core = np.full(n, -1, dtype=np.int64)
    representative = np.arange(m, dtype=np.int64)  # positions among the core faces
    if m == 0:
        return core, representative, representative, nearest_core
    core_points, position = points[core_rows], np.cumsum(core) - 1
    for start in range(0, n, block):
        near = points[start : start + block] @ core_points.T
        touching = near.max(axis=1) >= floor
        nearest_core[start : start + len(near)][touching] = core_rows[near[touching].argmax(axis=1)]
        here = start + np.flatnonzero(core[start : start + len(near)])
        # One edge per component a core face touches, not one per face: columns grouped by
        # representative, then OR-ed within each group.
        order = np.argsort(representative, kind="stable")
        grouped = representative[order]
        starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
        touched = np.logical_or.reduceat((near[here - start] >= floor)[:, order], starts, axis=1)
        rows, groups = np.nonzero(touched)
        reps = grouped[starts][groups]
        sources = np.concatenate([position[here][rows], np.arange(m)])
        graph = coo_matrix((np.ones(len(sources)), (sources, np.concatenate([reps, representative]))), (m, m))
        _, component = connected_components(graph, directed=False)
        _, first = np.unique(component, return_index=True)
        representative = first[component].astype(np.int64)
    return core, np.arange(m, dtype=np.int64), representative, nearest_core


def _approximate_graph(points: NDArray[np.float32], params: ClusterParams) -> Graph:
    """The same graph over each face's NEIGHBOUR_CAP nearest neighbours from faiss (approximate,
    capped: exact for the core rule while min_faces <= the cap)."""
    from scipy.sparse import coo_matrix

    similarity, neighbours = _ivf_neighbours(points)
    n = len(points)
    sources = np.repeat(np.arange(n, dtype=np.int64), neighbours.shape[1])
    targets, sims = neighbours.reshape(-1), similarity.reshape(-1)
    keep = (targets >= 0) & (targets != sources) & (sims >= 1.0 - params.max_distance)
    # Weights 1 + similarity stay > 0 within max_distance < 2, so no edge is dropped as an
    # explicit zero; the maximum with the transpose makes the k-nearest lists symmetric.
    graph = coo_matrix((1.0 + sims[keep], (sources[keep], targets[keep])), shape=(n, n)).tocsr()
    graph = graph.maximum(graph.T).tocsr()
    core = np.diff(graph.indptr) + 1 >= params.min_faces
    core_rows = np.flatnonzero(core)
    to_core = graph[:, core_rows].tocsr()
    nearest_core = np.full(n, -1, dtype=np.int64)
    touching = np.diff(to_core.indptr) > 0
    if touching.any():
        nearest_core[touching] = core_rows[np.asarray(to_core[touching].argmax(axis=1)).reshape(-1)]
    edges = to_core[core_rows].tocoo()
    return core, edges.row.astype(np.int64), edges.col.astype(np.int64), nearest_core


def _label(
    core: NDArray[np.bool_],
    sources: NDArray[np.int64],
    targets: NDArray[np.int64],
    nearest: NDArray[np.int64],
) -> NDArray[np.int64]:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    labels = np.full(len(core), UNASSIGNED, dtype=np.int64)
    core_rows = np.flatnonzero(core)
    if len(core_rows) == 0:
        return labels
    shape = (len(core_rows), len(core_rows))
    _, component = connected_components(
        coo_matrix((np.ones(len(sources)), (sources, targets)), shape=shape), directed=False
    )
    # Number components by their first core face, so labels do not depend on scipy's order.
    _, first, dense = np.unique(component, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    labels[core_rows] = rank[dense.reshape(-1)]
    border = ~core & (nearest >= 0)
    labels[border] = labels[nearest[border]]
    return labels


def _ivf_neighbours(points: NDArray[np.float32]) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Each face's NEIGHBOUR_CAP + 1 approximate nearest (itself included, -1: none) from faiss.

    Exact within the probed cells, and a face's own cell is always probed, so the faces of one
    person (a tight ball) find each other; what can be missed is a neighbour across a cell
    border that is not among the IVF_PROBES nearest cells.
    """
    import faiss

    faiss.omp_set_num_threads(_usable_cpus())
    n, dim = points.shape
    cells = max(1, min(n // IVF_TRAIN_PER_CELL, int(IVF_CELLS_PER_ROOT * np.sqrt(n))))
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, cells, faiss.METRIC_INNER_PRODUCT)
    index.cp.min_points_per_centroid = 1  # the sample below is enough; keep faiss from warning
    sample = np.random.default_rng(0).choice(n, min(n, cells * IVF_TRAIN_PER_CELL), replace=False)
    index.train(points[np.sort(sample)])
    index.add(points)
    index.nprobe = min(IVF_PROBES, cells)
    similarity, rows = index.search(points, NEIGHBOUR_CAP + 1)
    return similarity.astype(np.float32), rows.astype(np.int64)


def _usable_cpus() -> int:
    # The machine is shared: use the CPUs this process may run on, not every core faiss sees.
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
