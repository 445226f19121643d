# gc: collect/enable/isenabled and memory relations (never absolute values)
import gc
gc.collect()
free0 = gc.mem_free()
alloc0 = gc.mem_alloc()
print(free0 > 0, alloc0 > 0)
junk = [bytearray(64) for _ in range(8)]
free1 = gc.mem_free()
print('allocating lowers free memory:', free1 < free0)
del junk
gc.collect()
free2 = gc.mem_free()
print('collect returns memory:', free2 > free1)
print('total roughly constant:', abs((free2 + gc.mem_alloc()) - (free0 + alloc0)) < 1024)
gc.disable()
print(gc.isenabled())
gc.enable()
print(gc.isenabled())
kept = []
for i in range(20):
    kept.append(str(i) * 3)
    if i % 5 == 4:
        gc.collect()
print(len(kept), kept[7], sum(len(s) for s in kept))
