"""The metadata members of an image version, named once for every API that carries them.

CreateImageVersion, UpdateImageVersion and DescribeImageVersion share these members, and so do the
properties of the ``AWS::SageMaker::ImageVersion`` resource (its Cloud Control handler passes them
through to those operations).
"""

from __future__ import annotations

# API member -> the column of ``image_versions`` that stores it.
METADATA_COLUMNS = {
    "VendorGuidance": "vendor_guidance",
    "JobType": "job_type",
    "MLFramework": "ml_framework",
    "ProgrammingLang": "programming_lang",
    "Processor": "processor",
    "Horovod": "horovod",
    "ReleaseNotes": "release_notes",
}
METADATA_MEMBERS = tuple(METADATA_COLUMNS)
