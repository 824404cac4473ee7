#!/usr/bin/env python3
"""The shape the source keeps (issue 19): no import cycle between files, no file over 450 lines
before its tests, no function over 100 lines. Usage: .ci/shape.py [src]"""
import os, re, sys
root = sys.argv[1] if len(sys.argv) > 1 else 'src'

# --- import cycles: the file-level `use` graph and its strongly connected components
files = {}
for d, _, fs in os.walk(root):
    for f in fs:
        if f.endswith('.rs'):
            p = os.path.join(d, f)
            files[p] = open(p).read()
def modpath(p):
    rel = os.path.relpath(p, root)[:-3].split('/')
    if rel[-1] in ('mod', 'lib', 'main'): rel = rel[:-1]
    return rel
bymod = {tuple(modpath(p)): p for p in files if not p.endswith('main.rs')}
def resolve(cur, path):
    parts = path.split('::')
    base = list(cur)
    if parts[0] == 'crate': base = []; parts = parts[1:]
    elif parts[0] == 'self': parts = parts[1:]
    elif parts[0] == 'super':
        while parts and parts[0] == 'super': base = base[:-1]; parts = parts[1:]
    else: return None
    best = None
    for i in range(len(parts), -1, -1):
        t = tuple(base + parts[:i])
        if t in bymod: best = bymod[t]; break
    return best
edges = {p: set() for p in files}
for p, src in files.items():
    src = src.split('#[cfg(test)]')[0]
    src = re.sub(r'//[^\n]*', '', src)
    cur = modpath(p)
    for m in re.finditer(r'^\s*(?:pub(?:\([^)]*\))?\s+)?use\s+([^;]+);', src, re.M):
        u = m.group(1).replace('\n', ' ')
        # expand one level of braces
        mm = re.match(r'([\w:]+)::\{(.*)\}$', u.strip(), re.S)
        paths = []
        if mm:
            for item in mm.group(2).split(','):
                item = item.strip().split(' as ')[0]
                if not item: continue
                if item == 'self': paths.append(mm.group(1))
                else: paths.append(mm.group(1) + '::' + item.split('::{')[0])
        else: paths.append(u.strip().split(' as ')[0])
        for q in paths:
            t = resolve(cur, q)
            if t and t != p: edges[p].add(t)
    # inline paths like crate::a::b::f( or super::x::
    for m in re.finditer(r'\b((?:crate|super)(?:::\w+)+)', src):
        t = resolve(cur, m.group(1))
        if t and t != p: edges[p].add(t)
index = {}; low = {}; st = []; on = set(); sccs = []; c = [0]
sys.setrecursionlimit(10000)
def sc(v):
    index[v] = low[v] = c[0]; c[0] += 1; st.append(v); on.add(v)
    for w in edges[v]:
        if w not in index: sc(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = st.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1: sccs.append(comp)
for v in files:
    if v not in index: sc(v)
for comp in sccs: print('cycle:', sorted(comp))
print(len(sccs), "import cycles")

# --- sizes
MAX_FILE, MAX_FN = 450, 100
bad = 0
longest = []
for d, _, fs in os.walk(root):
    for f in fs:
        if not f.endswith('.rs'): continue
        p = os.path.join(d, f)
        lines = open(p).read().split('\n')
        code = []
        for l in lines:
            if l.strip().startswith('#[cfg(test)]'): break
            code.append(l)
        if len(code) > MAX_FILE:
            print(f'{p}: {len(code)} lines of code (at most {MAX_FILE})'); bad += 1
        # functions: from a `fn` line to the closing brace at its indent
        for i, l in enumerate(code):
            m = re.match(r'^(\s*)(?:pub(?:\([^)]*\))?\s+)?(?:async\s+)?(?:const\s+)?fn\s+(\w+)', l)
            if not m: continue
            ind = m.group(1)
            for j in range(i + 1, len(code)):
                if code[j].startswith(ind + '}') and not code[j].startswith(ind + '}' + ' else'):
                    n = j - i + 1
                    longest.append((n, p, m.group(2)))
                    if n > MAX_FN:
                        print(f'{p}: fn {m.group(2)} is {n} lines (at most {MAX_FN})'); bad += 1
                    break
longest.sort(reverse=True)
for n, p, name in longest[:5]: print(f'  {n:4} {p} {name}')
print(f'{bad} over the limits')
sys.exit(1 if bad or sccs else 0)
