"""Stable error codes and the exception hierarchy for bad input.

Every error a user can cause carries a stable English ``code`` (scripts and the API match on it)
and a Chinese ``message`` for the person reading it. The edges (CLI, API) turn these into one-line
messages or HTTP errors; nothing inside the pipeline prints.

A new code must also be listed, once, with its HTTP status and meaning, in ``service.api.errors.ERRORS``
and the README's 错误代码 table: ``tests/test_error_catalogue.py`` reads the source and fails otherwise.
"""

from __future__ import annotations


class XunchaError(Exception):
    """Base class: an input or configuration problem the user can fix."""

    code: str = "xuncha_error"
    default_message: str = "处理失败"

    def __init__(self, message: str | None = None, *, source: str | None = None) -> None:
        self.message = message or self.default_message
        self.source = source
        super().__init__(self.message)

    def to_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "source": self.source}

    def __str__(self) -> str:
        where = f"{self.source}: " if self.source else ""
        return f"{where}[{self.code}] {self.message}"


class ExtractionError(XunchaError):
    """The file could not be turned into text."""

    code = "extraction_failed"
    default_message = "无法从文件中提取文本"


class SourceNotFoundError(ExtractionError):
    code = "file_not_found"
    default_message = "文件不存在"


class EmptyFileError(ExtractionError):
    code = "empty_file"
    default_message = "文件为空"


class FileTooLargeError(ExtractionError):
    code = "file_too_large"
    default_message = "文件超过大小上限"


class UnsupportedTypeError(ExtractionError):
    code = "unsupported_type"
    default_message = "不支持的文件类型（支持 PDF、DOCX、DOC/WPS/RTF、OFD、图片、TXT/MD、HTML）"


class UnknownEncodingError(ExtractionError):
    code = "unknown_encoding"
    default_message = "无法识别文本编码（支持 UTF-8、UTF-16、GB18030/GBK）"


class CorruptPdfError(ExtractionError):
    code = "corrupt_pdf"
    default_message = "PDF 文件已损坏，无法打开"


class EncryptedPdfError(ExtractionError):
    code = "encrypted_pdf"
    default_message = "PDF 文件已加密，请先解除密码保护"


class CorruptDocxError(ExtractionError):
    code = "corrupt_docx"
    default_message = "DOCX 文件已损坏，无法打开"


class DocxTooLargeError(ExtractionError):
    """A DOCX whose members inflate far beyond the file size (zip bomb)."""

    code = "docx_too_large"
    default_message = "DOCX 解压后体积异常（疑似压缩炸弹），已拒绝"


class TextTooLongError(ExtractionError):
    """More text than any report holds (a 1,000-page report has ~1M characters): refused before the
    pipeline spends minutes and gigabytes on it."""

    code = "text_too_long"
    default_message = "文件文字过多，超过单个文档的上限"


class CorruptOfdError(ExtractionError):
    code = "corrupt_ofd"
    default_message = "OFD 文件已损坏，无法读取"


class OfdTooLargeError(ExtractionError):
    """An OFD package whose members inflate far beyond the file size (zip bomb)."""

    code = "ofd_too_large"
    default_message = "OFD 解压后体积异常（疑似压缩炸弹），已拒绝"


class CorruptImageError(ExtractionError):
    code = "corrupt_image"
    default_message = "图片文件已损坏，无法打开"


class NoTextFoundError(ExtractionError):
    """OCR ran and read nothing: a photo, a blank page, a picture without writing."""

    code = "no_text_found"
    default_message = "未识别出任何文字（图片或扫描页中没有文字）"


class OcrPageLimitError(ExtractionError):
    code = "ocr_page_limit"
    default_message = "需要识别（OCR）的页数超过上限"


class ConverterMissingError(ExtractionError):
    """A .doc/.wps/.rtf needs LibreOffice, which is not installed on this machine."""

    code = "converter_missing"
    default_message = "转换 .doc/.wps/.rtf 需要 LibreOffice（Debian 软件包 libreoffice-writer-nogui），本机未安装"


class ConversionFailedError(ExtractionError):
    code = "conversion_failed"
    default_message = "LibreOffice 无法转换此文件"


class ConversionTimeoutError(ConversionFailedError):
    code = "conversion_timeout"
    default_message = "LibreOffice 转换超时"


class BackendUnavailableError(XunchaError):
    """An optional backend (HanLP, a local model) is not installed or its model path is missing."""

    code = "backend_unavailable"
    default_message = "所需的可选组件未安装"
