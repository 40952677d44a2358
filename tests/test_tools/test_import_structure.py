"""The package's structure holds: no import circle between its modules (function-level imports
included), no import from a lower layer up into a higher one, and the model code never imports
the synthetic data generator. Read from the source (``ast``), so nothing is imported here."""
import ast
import os
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Set

from simdistill.testing import ROOT

PACKAGES_DIR = osp.join(ROOT, 'projects', 'SimDistill')
# simdistill's sub-packages from the bottom layer up: a module may import its own layer and
# the layers below it, never one above.
LAYERS = ('errors', 'structures', 'utils', 'checkpoint', 'compat', 'ops', 'model_conversion',
          'datasets', 'engine', 'models', 'evaluation', 'deployment', 'entrypoints',
          'visualization', 'testing')


def module_files() -> Dict[str, str]:
    """Dotted module name -> file, for simdistill and synthetic_nuscenes."""
    files = {}
    for package in ('simdistill', 'synthetic_nuscenes'):
        for folder, _, names in os.walk(osp.join(PACKAGES_DIR, package)):
            for name in names:
                if name.endswith('.py'):
                    path = osp.join(folder, name)
                    module = osp.relpath(path, PACKAGES_DIR)[:-3].replace(os.sep, '.')
                    files[module[:-len('.__init__')] if module.endswith('.__init__')
                          else module] = path
    return files


def import_graph(files: Dict[str, str]) -> Dict[str, Set[str]]:
    """Module -> the project modules it imports anywhere in its file. ``from package import
    name`` counts ``package.name`` when that is a module; a module's own ancestors (run by
    Python before it anyway) are not edges."""
    graph = defaultdict(set)
    for module, path in files.items():
        package = module if path.endswith('__init__.py') else module.rsplit('.', 1)[0]
        for node in ast.walk(ast.parse(open(path).read(), path)):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = package.split('.')
                    base = '.'.join(parts[:len(parts) - node.level + 1])
                    target = base + ('.' + node.module if node.module else '')
                else:
                    target = node.module or ''
                candidates = [target] + [f'{target}.{alias.name}' for alias in node.names]
            elif isinstance(node, ast.Import):
                candidates = [alias.name for alias in node.names]
            else:
                continue
            for other in candidates:
                if other in files and other != module and not module.startswith(other + '.'):
                    graph[module].add(other)
    return graph


def cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(root):
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def layer(module: str):
    parts = module.split('.')
    return parts[1] if parts[0] == 'simdistill' and len(parts) > 1 else None


def test_the_graph_sees_relative_and_absolute_imports():
    graph = import_graph(module_files())
    assert 'simdistill.ops.bev_pool.plan' in graph['simdistill.ops.bev_pool.api']  # from .plan
    assert 'simdistill.structures.bev_grid' in graph['simdistill.ops.bev_pool.plan']  # from ...
    # and the cycle finder finds a planted circle
    assert cycles({'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}) == [['a', 'b', 'c']]


def test_no_import_circles():
    assert cycles(import_graph(module_files())) == []


def test_no_import_runs_up_the_layers():
    files = module_files()
    unknown = sorted({layer(m) for m in files} - set(LAYERS) - {None, '__main__'})
    assert not unknown, f'sub-packages missing from LAYERS: {unknown}'
    upward = [f'{m} -> {t}' for m, targets in import_graph(files).items() for t in targets
              if layer(m) and layer(t) and LAYERS.index(layer(t)) > LAYERS.index(layer(m))]
    assert upward == [], upward


def test_the_plugin_never_imports_the_data_generator():
    graph = import_graph(module_files())
    assert [f'{m} -> {t}' for m, targets in graph.items() for t in targets
            if m.startswith('simdistill') and t.startswith('synthetic_nuscenes')] == []
