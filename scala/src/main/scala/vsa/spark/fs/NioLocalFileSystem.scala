package vsa.spark.fs

import java.net.URI
import java.nio.file.Files
import java.nio.file.attribute.PosixFilePermission
import java.util

import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.{ChecksumFs, DelegateToFileSystem, FileStatus, FsConstants, FsServerDefaults, Path}
import org.apache.hadoop.fs.local.LocalConfigKeys
import org.apache.hadoop.fs.permission.FsPermission

/** Hadoop's local file system (`file:`) without its processes.
  *
  * Without Hadoop's native library (pyspark ships none), `RawLocalFileSystem` starts a `chmod` process for every file
  * and folder it creates with a permission, and a `readlink` for every `getFileLinkStatus`, which `FileContext` calls
  * four times in a rename. A streaming micro-batch creates and renames dozens of files (its offset and commit logs, the
  * state store's delta files, each table's Parquet files and `_spark_metadata` entry): several hundred processes a
  * batch. This one does the same through `java.nio`: the same permissions, the same answers, no process. Everything
  * else is Hadoop's own.
  *
  * [[NioLocalFileSystem.install]] puts it in a Hadoop configuration; `vsa.spark_session.build_session` does so for a
  * local session (docs/performance.md).
  */
class NioRawLocalFileSystem extends org.apache.hadoop.fs.RawLocalFileSystem {

  override def setPermission(p: Path, permission: FsPermission): Unit =
    Files.setPosixFilePermissions(pathToFile(p).toPath, NioRawLocalFileSystem.posix(permission))

  /** A path that is no symbolic link has its own status; Hadoop's answer (a `readlink` process) only for a link. */
  override def getFileLinkStatus(f: Path): FileStatus =
    if (Files.isSymbolicLink(pathToFile(f).toPath)) super.getFileLinkStatus(f) else getFileStatus(f)
}

object NioRawLocalFileSystem {

  // The nine permission bits, from the owner's read (0400) down.
  private val Bits: Seq[(Int, PosixFilePermission)] = Seq(
    0x100 -> PosixFilePermission.OWNER_READ,
    0x80 -> PosixFilePermission.OWNER_WRITE,
    0x40 -> PosixFilePermission.OWNER_EXECUTE,
    0x20 -> PosixFilePermission.GROUP_READ,
    0x10 -> PosixFilePermission.GROUP_WRITE,
    0x8 -> PosixFilePermission.GROUP_EXECUTE,
    0x4 -> PosixFilePermission.OTHERS_READ,
    0x2 -> PosixFilePermission.OTHERS_WRITE,
    0x1 -> PosixFilePermission.OTHERS_EXECUTE
  )

  /** `permission`'s read, write and execute bits (a sticky bit has no `java.nio` form; Hadoop creates no such file). */
  def posix(permission: FsPermission): util.Set[PosixFilePermission] = {
    val mode = permission.toShort.toInt
    val set = util.EnumSet.noneOf(classOf[PosixFilePermission])
    Bits.foreach { case (bit, p) => if ((mode & bit) != 0) set.add(p) }
    set
  }
}

/** `fs.file.impl`: Hadoop's checksummed local file system over [[NioRawLocalFileSystem]]. */
class NioLocalFileSystem extends org.apache.hadoop.fs.LocalFileSystem(new NioRawLocalFileSystem)

object NioLocalFileSystem {

  /** Makes `conf` give vsa's local file system for `file:` paths, to `FileSystem` and to `FileContext`, unless it names
    * a `fs.file.impl` already (a user's choice stays); whether it did.
    *
    * Set after Spark has started (through `spark.hadoop.*` at launch, spark-submit would look the class up before the
    * jar is on its class path). `FileSystem`'s cache keeps the instance it made for `file:` at start-up whatever the
    * configuration says later, so the cache is off for `file:`: a local file system costs nothing to make.
    */
  def install(conf: Configuration): Boolean =
    if (conf.get("fs.file.impl") != null) false
    else {
      conf.set("fs.file.impl", classOf[NioLocalFileSystem].getName)
      conf.setBoolean("fs.file.impl.disable.cache", true)
      conf.set("fs.AbstractFileSystem.file.impl", classOf[NioLocalFs].getName)
      true
    }
}

/** `fs.AbstractFileSystem.file.impl` (what `FileContext`, and so Spark's checkpoint file manager, uses): Hadoop's
  * `LocalFs` over [[NioRawLocalFileSystem]].
  */
class NioLocalFs(uri: URI, conf: Configuration) extends ChecksumFs(new NioRawLocalFs(uri, conf)) {
  def this(conf: Configuration) = this(FsConstants.LOCAL_FS_URI, conf)
}

/** Hadoop's `RawLocalFs`, delegating to [[NioRawLocalFileSystem]]. */
class NioRawLocalFs(uri: URI, conf: Configuration)
    extends DelegateToFileSystem(uri, new NioRawLocalFileSystem, conf, FsConstants.LOCAL_FS_URI.getScheme, false) {
  override def getUriDefaultPort: Int = -1
  override def getServerDefaults(f: Path): FsServerDefaults = LocalConfigKeys.getServerDefaults
  @deprecated("as Hadoop's", "")
  override def getServerDefaults: FsServerDefaults = LocalConfigKeys.getServerDefaults
  override def isValidName(src: String): Boolean = true
}
