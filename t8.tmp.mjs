import pl from 'nodejs-polars';
const path=process.argv[2];
const t0=performance.now(); let n=0;
const all = await pl.scanParquet(path).select(pl.col('symbol').cast(pl.Utf8), pl.col('event_type'), pl.col('timestamp').cast(pl.Int64).cast(pl.Float64)).collect();
const t1=performance.now();
for (let off=0;off<all.height;off+=16384){ const df=all.slice(off,16384);
 const a=df.getColumn('symbol').toArray(); const b=df.getColumn('event_type').toArray(); const c=df.getColumn('timestamp').toTypedArray(); n+=df.height;}
console.log('collect once', (t1-t0)|0, 'total', (performance.now()-t0)|0, n, 'rss', process.resourceUsage().maxRSS/1024|0, 'heap', process.memoryUsage().heapUsed/1e6|0, 'est', all.estimatedSize?.());
