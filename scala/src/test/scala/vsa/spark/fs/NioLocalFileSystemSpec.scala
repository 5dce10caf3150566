package vsa.spark.fs

import java.io.FileNotFoundException
import java.net.URI
import java.nio.charset.StandardCharsets.UTF_8
import java.nio.file.{Files, Path => JPath}
import java.nio.file.attribute.PosixFilePermissions

import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.{FileContext, FileStatus, FileSystem, LocalFileSystem, Path}
import org.apache.hadoop.fs.permission.FsPermission
import org.apache.spark.sql.execution.streaming.checkpointing.CheckpointFileManager
import org.scalatest.funsuite.AnyFunSuite

/** vsa's local file system answers as Hadoop's does, on real files: permissions, statuses of files, folders and links,
  * and the atomic writes of Spark's checkpoint file manager through `FileContext`.
  */
class NioLocalFileSystemSpec extends AnyFunSuite {

  private val conf = {
    val c = new Configuration()
    assert(NioLocalFileSystem.install(c))
    c
  }

  private def nio: FileSystem = FileSystem.get(new URI("file:///"), conf)

  private def hadoops: FileSystem = {
    val fs = new LocalFileSystem()
    fs.initialize(new URI("file:///"), new Configuration())
    fs
  }

  test("a configuration that names a local file system keeps it") {
    val c = new Configuration()
    c.set("fs.file.impl", classOf[LocalFileSystem].getName)
    assert(!NioLocalFileSystem.install(c))
    assert(c.get("fs.file.impl") == classOf[LocalFileSystem].getName)
    assert(FileSystem.get(new URI("file:///"), c).getClass == classOf[LocalFileSystem])
  }

  private def mode(path: JPath): String = PosixFilePermissions.toString(Files.getPosixFilePermissions(path))

  test("once installed, file: paths get vsa's file system, from FileSystem (cached before or not) and FileContext") {
    // Spark has cached Hadoop's own for file: before vsa installs its own.
    assert(FileSystem.get(new URI("file:///"), new Configuration()).getClass == classOf[LocalFileSystem])
    assert(nio.isInstanceOf[NioLocalFileSystem])
    assert(FileContext.getFileContext(new URI("file:///"), conf).getDefaultFileSystem.isInstanceOf[NioLocalFs])
  }

  test("files and folders get the permissions Hadoop's local file system gives them") {
    val root = Files.createTempDirectory("nio-fs")
    def made(fs: FileSystem, name: String): (String, String) = {
      val file = new Path(root.toUri.toString, s"$name.parquet")
      fs.create(file, new FsPermission("640"), true, 4096, 1.toShort, 1L << 20, null).close()
      val folder = new Path(root.toUri.toString, s"$name-folder/date=2026-12-06")
      assert(fs.mkdirs(folder, new FsPermission("750")))
      (mode(root.resolve(s"$name.parquet")), mode(root.resolve(s"$name-folder/date=2026-12-06")))
    }
    val ours = made(nio, "nio")
    assert(ours == made(hadoops, "hadoop"))
    // Hadoop's default umask (022) leaves these as asked.
    assert(ours == ("rw-r-----", "rwxr-x---"))
    nio.setPermission(new Path(root.resolve("nio.parquet").toUri), new FsPermission("604"))
    assert(mode(root.resolve("nio.parquet")) == "rw----r--")
  }

  test("a file's, a folder's and a link's status is Hadoop's, and a missing path is not found") {
    val root = Files.createTempDirectory("nio-fs")
    val file = Files.write(root.resolve("entry"), "v1\n".getBytes(UTF_8))
    val folder = Files.createDirectory(root.resolve("folder"))
    val link = Files.createSymbolicLink(root.resolve("link"), file)
    def seen(status: FileStatus): (Boolean, Boolean, Boolean, Long, Path, Option[Path]) =
      (
        status.isFile,
        status.isDirectory,
        status.isSymlink,
        status.getLen,
        status.getPath,
        if (status.isSymlink) Some(status.getSymlink) else None
      )
    // Qualified (file:/…) and bare paths: Hadoop reads a link's target from the bare form only.
    for (path <- Seq(file, folder, link); p <- Seq(new Path(path.toUri), new Path(path.toString))) {
      assert(seen(nio.getFileLinkStatus(p)) == seen(hadoops.getFileLinkStatus(p)), p)
    }
    assert(nio.getFileLinkStatus(new Path(file.toString)).getLen == 3)
    assert(nio.getFileLinkStatus(new Path(link.toString)).isSymlink)
    assert(!nio.getFileLinkStatus(new Path(folder.toString)).isSymlink)
    intercept[FileNotFoundException](nio.getFileLinkStatus(new Path(root.resolve("missing").toUri)))
  }

  test("Spark's checkpoint file manager writes a log entry atomically through it") {
    val log = Files.createTempDirectory("nio-fs").resolve("_spark_metadata")
    val manager = CheckpointFileManager.create(new Path(log.toUri), conf)
    manager.mkdirs(new Path(log.toUri))
    val entry = new Path(log.resolve("0").toUri)
    val out = manager.createAtomic(entry, overwriteIfPossible = false)
    out.write("v1\n{}\n".getBytes(UTF_8))
    out.close()
    assert(new String(Files.readAllBytes(log.resolve("0")), UTF_8) == "v1\n{}\n")
    // Only the entry (and its checksum) is left: the temporary file was renamed into place.
    assert(Files.list(log).map(_.getFileName.toString).toArray.toSet == Set("0", ".0.crc"))
    // A second writer of the same entry fails, as on Hadoop's file system.
    val again = manager.createAtomic(entry, overwriteIfPossible = false)
    again.write("v1\n".getBytes(UTF_8))
    intercept[Exception](again.close())
  }
}
