import pl from 'nodejs-polars';
const path=process.argv[2];
const t0=performance.now(); let n=0; let chk=0;
for (let off=0;;off+=16384){ const df=await pl.scanParquet(path).select(pl.col('symbol').cast(pl.Utf8).alias('s'), pl.col('event_type').cast(pl.Utf8).alias('e'), pl.col('timestamp').cast(pl.Int64).cast(pl.Float64).alias('t')).slice(off,16384).collect();
 const codes = df.select(pl.col('s').rank('dense').alias('s'), pl.col('e').rank('dense').alias('e'));
 const sc = codes.getColumn('s').toTypedArray(); const ec=codes.getColumn('e').toTypedArray();
 const sd = df.getColumn('s').unique().sort().toArray(); const ed = df.getColumn('e').unique().sort().toArray();
 const c=df.getColumn('t').toTypedArray(); n+=df.height; for (let i=0;i<df.height;i++) chk+= sd[sc[i]-1].length + ed[ec[i]-1].length;
 if (df.height<16384) break;}
console.log('rank codes', (performance.now()-t0)|0, n, chk, 'rss', process.resourceUsage().maxRSS/1024|0, 'heap', process.memoryUsage().heapUsed/1e6|0);
