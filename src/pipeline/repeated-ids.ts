/**
 * A manifest may list one event twice (the same row twice, or the same instant written two ways:
 * `2024-03-11 15:00:00` and `2024-03-11T11:00:00-04:00` give one canonical ID). Downloading it twice
 * journals it twice, and with `--partition` the two rows can fall to two processes. Only the first
 * position of an ID counts: every process reading the same manifest drops the same later rows, so
 * ownership (first position mod N) is never shared.
 */
import type { ManifestEvent } from '../streams/manifest.js';

/** Counts what {@link firstOccurrences} dropped. */
export interface RepeatCounter {
  repeats: number;
}

/** The events of `source` whose ID was not seen earlier in it (first position wins). */
export async function* firstOccurrences<T extends Pick<ManifestEvent, 'eventId'>>(source: AsyncIterable<T>, counter?: RepeatCounter): AsyncGenerator<T> {
  const seen = new Set<string>();
  for await (const e of source) {
    if (seen.has(e.eventId)) {
      if (counter) counter.repeats++;
      continue;
    }
    seen.add(e.eventId);
    yield e;
  }
}
