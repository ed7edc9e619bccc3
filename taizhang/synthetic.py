"""Synthetic but plausible people, enterprises and texts for demos, tests and benchmarks.

Identifiers carry correct check characters (GB 11643, GB 32100), so they pass
the same validation real input does. Every value comes from the given
``random.Random``: the same seed gives the same workload.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from domain.identifiers import USCC_ALPHABET, check_resident_id_char, check_uscc_char

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许"
    "韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英建华文辉鹏晨宇欣怡子涵浩然梓萱雨轩"
JINAN_DISTRICTS = ("370102", "370103", "370104", "370105", "370112", "370113", "370114")
MOBILE_PREFIXES = (
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "158",
    "159",
    "182",
    "183",
    "186",
    "187",
    "188",
    "189",
    "199",
)
ENTERPRISE_WORDS = ("华信", "齐鲁", "泉城", "高新", "浪潮", "鲁商", "明湖", "舜耕", "奥体", "汉峪")
ENTERPRISE_KINDS = (
    "科技有限公司",
    "信息技术有限公司",
    "人力资源服务有限公司",
    "软件股份有限公司",
    "生物医药有限公司",
    "智能制造有限公司",
)

TICKET_TOPICS = (
    "咨询灵活就业人员社保补贴申领条件",
    "反映招聘会现场企业信息与实际不符",
    "建议延长政务服务大厅周末服务时间",
    "咨询高校毕业生一次性创业补贴办理流程",
    "投诉职业技能培训补贴未按时发放",
    "咨询失业登记和就业困难人员认定",
    "咨询创业担保贷款额度及贴息政策",
    "反映企业未按规定缴纳社会保险",
    "咨询企业吸纳就业社保补贴申报材料",
    "咨询退役军人就业创业扶持政策",
)
STEP_MEASURES = (
    ("电话联系诉求人核实情况", "已核实诉求内容"),
    ("查询政策文件并答复", "已告知政策依据及办理渠道"),
    ("转相关业务科室协调", "科室已受理并反馈意见"),
    ("约谈相关企业", "企业承诺整改"),
)
RESOLUTIONS = (
    "已电话答复诉求人，诉求人表示理解",
    "已按政策办理完毕并反馈",
    "已协调解决，结果已告知诉求人",
)
MATERIALS = (
    "申请表",
    "身份证复印件",
    "营业执照副本",
    "劳动合同",
    "社保缴费证明",
    "培训结业证书",
    "创业项目计划书",
    "银行账户信息",
)


def person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def resident_id(rng: random.Random) -> str:
    birth = date(1960, 1, 1) + timedelta(days=rng.randrange(365 * 44))
    first17 = f"{rng.choice(JINAN_DISTRICTS)}{birth:%Y%m%d}{rng.randrange(1000):03d}"
    return first17 + check_resident_id_char(first17)


def mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def enterprise_name(rng: random.Random) -> str:
    return "济南" + rng.choice(ENTERPRISE_WORDS) + rng.choice(ENTERPRISE_KINDS)


def uscc(rng: random.Random) -> str:
    body = "".join(rng.choice(USCC_ALPHABET[:10] + "ABCDEFGH") for _ in range(9))
    first17 = f"91370100{body}"
    return first17 + check_uscc_char(first17)


def person_fields(rng: random.Random) -> dict[str, str]:
    return {"name": person_name(rng), "id_number": resident_id(rng), "mobile": mobile(rng)}


def enterprise_fields(rng: random.Random) -> dict[str, str]:
    return {"name": enterprise_name(rng), "uscc": uscc(rng), "mobile": mobile(rng)}
