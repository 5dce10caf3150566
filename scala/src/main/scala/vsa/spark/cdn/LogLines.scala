package vsa.spark.cdn

import org.apache.spark.sql.catalyst.util.{ArrayData, GenericArrayData}
import org.apache.spark.unsafe.types.UTF8String
import vsa.spark.cdn.LineRequest.{indexOf, slice}

/** A log record's lines: split at `\n`, a trailing `\r` dropped, blank lines (spaces only) left out. A record is
  * usually one line, found by one scan for `\n` over its bytes; the lines share the record's memory.
  */
object LogLines {

  def of(record: UTF8String): ArrayData = {
    val n = record.numBytes
    val lines = new java.util.ArrayList[UTF8String](1)
    var start = 0
    while (start <= n) {
      val newline = indexOf(record, '\n', start)
      val end = if (newline < 0) n else newline
      val last = if (end > start && record.getByte(end - 1) == '\r') end - 1 else end
      if (!blank(record, start, last)) lines.add(slice(record, start, last))
      start = if (newline < 0) n + 1 else newline + 1
    }
    new GenericArrayData(lines.toArray)
  }

  // Spark's trim(line) = '': spaces only.
  private def blank(record: UTF8String, start: Int, end: Int): Boolean = {
    var i = start
    while (i < end) {
      if (record.getByte(i) != ' ') return false
      i += 1
    }
    true
  }
}
